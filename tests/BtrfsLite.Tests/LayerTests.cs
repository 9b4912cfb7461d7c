using System.Text;
using System.Text.RegularExpressions;
using BtrfsLite.Tests.Support;

namespace BtrfsLite.Tests;

/// <summary>
/// The library's layers (README, "Layers"): each folder of src/BtrfsLite is one namespace and imports only the
/// layers beneath it. Checked on the source files themselves: using directives, <c>BtrfsLite.X.</c> names, and
/// names qualified by a layer alone (<c>Fs.BtrfsImage</c>, which resolves inside any <c>BtrfsLite.*</c> namespace).
/// </summary>
public partial class LayerTests
{
    /// <summary>Bottom to top, as the README's table lists them.</summary>
    private static readonly string[] Order =
        ["Format", "IO", "Trees", "Images", "Qgroups", "Transactions", "Fs", "Mkfs", "Check", "Text", "Workloads"];

    private static string Library => Path.Combine(RepoFiles.Root, "src", "BtrfsLite");

    [Fact]
    public void OrderIsTheReadmeTable()
    {
        var readme = File.ReadAllText(Path.Combine(RepoFiles.Root, "README.md"));
        int at = readme.IndexOf("### Layers (`src/BtrfsLite`", StringComparison.Ordinal);
        Assert.True(at >= 0, "README has no Layers section");
        var rows = new List<string>();
        foreach (var line in readme[at..].Split('\n').Skip(1))
        {
            if (line.StartsWith("###", StringComparison.Ordinal)) break;
            var m = TableRow().Match(line);
            if (m.Success) rows.Add(m.Groups[1].Value);
        }
        Assert.Equal(Order, rows);
    }

    [Fact]
    public void EveryFolderIsALayerAndItsNamespace()
    {
        var wrong = new List<string>();
        foreach (var file in SourceFiles())
        {
            var layer = LayerOf(file);
            if (!Order.Contains(layer)) wrong.Add($"{Rel(file)}: folder {layer} is not in the layer order");
            var ns = FileNamespace().Match(File.ReadAllText(file));
            if (!ns.Success || ns.Groups[1].Value != "BtrfsLite." + layer)
                wrong.Add($"{Rel(file)}: namespace {(ns.Success ? ns.Groups[1].Value : "(none)")}, expected BtrfsLite.{layer}");
        }
        Assert.True(wrong.Count == 0, string.Join("\n", wrong));
    }

    [Fact]
    public void EachLayerImportsOnlyLayersBeneathIt()
    {
        var types = LayerTypes();
        var upward = new List<string>();
        var imported = new HashSet<string>();
        foreach (var file in SourceFiles())
        {
            var layer = LayerOf(file);
            int own = Array.IndexOf(Order, layer);
            foreach (var (line, target, text) in Imports(File.ReadAllText(file), types))
            {
                if (target == layer) continue;
                imported.Add(layer);
                int other = Array.IndexOf(Order, target);
                if (other < 0 || other > own)
                    upward.Add($"{Rel(file)}:{line}: {layer} imports {target} ({text}), which is not beneath it");
            }
        }
        Assert.True(upward.Count == 0, string.Join("\n", upward));
        // The scan sees the imports that are there: every layer but the bottom one uses some layer beneath it.
        Assert.Equal(Order.Skip(1).Order(), imported.Order());
    }

    [Fact]
    public void ScanFindsEveryFormOfImportAndSkipsComments()
    {
        var types = new Dictionary<string, HashSet<string>> { ["Fs"] = ["FsTree"], ["Check"] = ["Checker"], ["Text"] = ["TextOut"] };
        const string src = """
            using BtrfsLite.Format;
            using static BtrfsLite.Mkfs.ImageBuilder;
            // using BtrfsLite.Text;  a comment: "Text.TextOut" here is no import
            namespace BtrfsLite.Trees;
            /* BtrfsLite.Check.Checker in a block comment */
            class A { string u = "http://x"; object b = Fs.FsTree.RootDirIno; object c = x.Fs.FsTree; object d = global::BtrfsLite.Check.Checker.Check; }
            """;
        var found = Imports(src, types).Select(i => (i.Line, i.Layer)).ToList();
        Assert.Equal([(1, "Format"), (2, "Mkfs"), (4, "Trees"), (6, "Fs"), (6, "Check")], found);
    }

    // ------------------------------------------------------------------ scanning

    private static IEnumerable<string> SourceFiles() =>
        Directory.EnumerateFiles(Library, "*.cs", SearchOption.AllDirectories)
            .Where(f => !Path.GetRelativePath(Library, f).Split(Path.DirectorySeparatorChar).Any(p => p is "bin" or "obj"))
            .Order(StringComparer.Ordinal);

    private static string LayerOf(string file) => Path.GetRelativePath(Library, file).Split(Path.DirectorySeparatorChar)[0];

    private static string Rel(string file) => Path.GetRelativePath(RepoFiles.Root, file);

    /// <summary>The type names each layer declares (for names qualified by a bare layer name).</summary>
    private static Dictionary<string, HashSet<string>> LayerTypes()
    {
        var types = Order.ToDictionary(l => l, _ => new HashSet<string>());
        foreach (var file in SourceFiles())
            if (types.TryGetValue(LayerOf(file), out var set))
                foreach (Match m in TypeDeclaration().Matches(WithoutComments(File.ReadAllText(file))))
                    set.Add(m.Groups[1].Value);
        return types;
    }

    /// <summary>Every reference to a layer in <paramref name="source"/>, comments left out: (line, layer, text).</summary>
    private static IEnumerable<(int Line, string Layer, string Text)> Imports(string source, IReadOnlyDictionary<string, HashSet<string>> types)
    {
        var code = WithoutComments(source);
        var lines = code.Split('\n');
        for (int i = 0; i < lines.Length; i++)
        {
            var hits = new List<(int At, string Layer, string Text)>();
            foreach (Match m in Qualified().Matches(lines[i]))
                hits.Add((m.Index, m.Groups[1].Value, m.Value));
            foreach (Match m in LayerQualified().Matches(lines[i]))
                if (types.TryGetValue(m.Groups[1].Value, out var declared) && declared.Contains(m.Groups[2].Value))
                    hits.Add((m.Index, m.Groups[1].Value, m.Value));
            foreach (var h in hits.OrderBy(h => h.At)) yield return (i + 1, h.Layer, h.Text);
        }
    }

    /// <summary>
    /// The source with // and /* */ comments blanked (line breaks kept, so line numbers hold); string and character
    /// literals are stepped over, not blanked: an interpolation hole is code.
    /// </summary>
    private static string WithoutComments(string s)
    {
        var sb = new StringBuilder(s.Length);
        for (int i = 0; i < s.Length; i++)
        {
            char c = s[i];
            if (c == '/' && i + 1 < s.Length && s[i + 1] == '/')
            {
                while (i < s.Length && s[i] != '\n') i++;
                if (i < s.Length) sb.Append('\n');
            }
            else if (c == '/' && i + 1 < s.Length && s[i + 1] == '*')
            {
                int end = s.IndexOf("*/", i + 2, StringComparison.Ordinal);
                end = end < 0 ? s.Length : end + 2;
                foreach (char k in s.AsSpan(i, end - i)) sb.Append(k == '\n' ? '\n' : ' ');
                i = end - 1;
            }
            else if (c is '"' or '\'')
            {
                bool verbatim = i > 0 && s[i - 1] == '@' || i > 1 && s[i - 1] == '$' && s[i - 2] == '@';
                sb.Append(c);
                for (i++; i < s.Length; i++)
                {
                    sb.Append(s[i]);
                    if (!verbatim && s[i] == '\\' && i + 1 < s.Length) { sb.Append(s[++i]); continue; }
                    if (s[i] == c)
                    {
                        if (verbatim && i + 1 < s.Length && s[i + 1] == c) { sb.Append(s[++i]); continue; }
                        break;
                    }
                    if (s[i] == '\n' && !verbatim) break;
                }
            }
            else sb.Append(c);
        }
        return sb.ToString();
    }

    [GeneratedRegex(@"^\|\s*`(\w+)`\s*\|")]
    private static partial Regex TableRow();

    [GeneratedRegex(@"^\s*namespace\s+([\w.]+)\s*;", RegexOptions.Multiline)]
    private static partial Regex FileNamespace();

    [GeneratedRegex(@"\b(?:record\s+(?:struct|class)|class|struct|record|interface|enum|delegate\s+[\w<>\[\],?.]+)\s+(\w+)")]
    private static partial Regex TypeDeclaration();

    /// <summary>Using directives and fully qualified names: <c>BtrfsLite.X</c> (also after <c>global::</c>).</summary>
    [GeneratedRegex(@"(?<![\w.])(?:global::)?BtrfsLite\.(\w+)")]
    private static partial Regex Qualified();

    /// <summary>A bare layer name before a name: a type of that layer when the layer declares it (not member access).</summary>
    [GeneratedRegex(@"(?<![\w.:])(\w+)\.(\w+)")]
    private static partial Regex LayerQualified();
}
