namespace BtrfsLite.Tests.Support;

/// <summary>The repository the tests run from (the folder holding BtrfsLite.sln).</summary>
public static class RepoFiles
{
    public static string Root { get; } = Find();

    /// <summary>
    /// The library and the tool's sources with what their build needs, copied to <paramref name="dest"/> without bin/
    /// and obj/: builds of another kind (NativeAOT, pack) there never touch the working tree's outputs.
    /// </summary>
    public static string CopySources(string dest)
    {
        foreach (var f in new[] { "Directory.Build.props", "Directory.Packages.props", "README.md", "LICENSE", "images/kernel-small.img.gz" })
        {
            Directory.CreateDirectory(Path.GetDirectoryName(Path.Combine(dest, f))!);
            File.Copy(Path.Combine(Root, f), Path.Combine(dest, f));
        }
        foreach (var project in new[] { "src/BtrfsLite", "src/BtrfsLite.Cli" })
            foreach (var f in Directory.EnumerateFiles(Path.Combine(Root, project), "*", SearchOption.AllDirectories))
            {
                var rel = Path.GetRelativePath(Root, f);
                if (rel.Split('/').Any(p => p is "bin" or "obj")) continue;
                Directory.CreateDirectory(Path.GetDirectoryName(Path.Combine(dest, rel))!);
                File.Copy(f, Path.Combine(dest, rel));
            }
        return dest;
    }

    private static string Find()
    {
        for (var d = new DirectoryInfo(AppContext.BaseDirectory); d != null; d = d.Parent)
            if (File.Exists(Path.Combine(d.FullName, "BtrfsLite.sln"))) return d.FullName;
        throw new InvalidOperationException("BtrfsLite.sln not found above " + AppContext.BaseDirectory);
    }
}
