namespace BtrfsLite.Tests.Support;

/// <summary>The repository the tests run from (the folder holding BtrfsLite.sln).</summary>
public static class RepoFiles
{
    public static string Root { get; } = Find();

    private static string Find()
    {
        for (var d = new DirectoryInfo(AppContext.BaseDirectory); d != null; d = d.Parent)
            if (File.Exists(Path.Combine(d.FullName, "BtrfsLite.sln"))) return d.FullName;
        throw new InvalidOperationException("BtrfsLite.sln not found above " + AppContext.BaseDirectory);
    }
}
