using System.IO.Compression;
using System.Xml.Linq;
using BtrfsLite.Tests.Support;

namespace BtrfsLite.Tests.Cli;

/// <summary><c>dotnet pack</c> of the library and the tool, from a copy of the sources: no warning, and the metadata
/// a package page shows (description, license, readme, symbols); the tool package is portable.</summary>
public class PackageTests
{
    [Fact]
    public void BothPackagesPackCleanlyWithTheirMetadata()
    {
        using var tmp = new TempDir();
        var src = RepoFiles.CopySources(tmp.File("src"));
        var outDir = tmp.File("packages");
        foreach (var project in new[] { "src/BtrfsLite", "src/BtrfsLite.Cli" })
        {
            var r = RealTools.Run("dotnet", "pack", Path.Combine(src, project), "-c", "Release", "-o", outDir, "-nologo");
            Assert.True(r.ExitCode == 0, r.All);
            Assert.DoesNotContain(r.Stdout.Split('\n'), l => l.Contains("warning", StringComparison.OrdinalIgnoreCase));
        }
        foreach (var id in new[] { "BtrfsLite.Core", "BtrfsLite.Cli" })
        {
            Assert.True(File.Exists(Path.Combine(outDir, id + ".1.0.0.snupkg")), $"{id}: no symbols package");
            using var zip = ZipFile.OpenRead(Path.Combine(outDir, id + ".1.0.0.nupkg"));
            var nuspec = XDocument.Load(zip.Entries.Single(e => e.FullName.EndsWith(".nuspec")).Open());
            var meta = nuspec.Root!.Elements().Single(e => e.Name.LocalName == "metadata");
            string? Get(string name) => meta.Elements().SingleOrDefault(e => e.Name.LocalName == name)?.Value;
            Assert.Equal(id, Get("id"));
            Assert.Equal("MIT", Get("license"));
            Assert.Equal("README.md", Get("readme"));
            Assert.NotNull(zip.GetEntry("README.md"));
            Assert.True((Get("description") ?? "").Length > 80 && Get("description") != "Package Description", id + ": " + Get("description"));
            if (id == "BtrfsLite.Cli")
            {
                Assert.NotNull(zip.GetEntry("tools/net10.0/any/btrfslite.dll"));
                Assert.DoesNotContain(zip.Entries, e => e.FullName.Contains("linux-x64"));
            }
            else Assert.NotNull(zip.GetEntry("lib/net10.0/BtrfsLite.Core.dll"));
        }
    }
}
