using System.Globalization;
using BtrfsLite.Format;
using BtrfsLite.Mkfs;

namespace BtrfsLite.Workloads;

/// <summary>A workload file could not be parsed: names the file, line and what is wrong.</summary>
/// <param name="message">The file (or source name), the line and what is wrong.</param>
public sealed class WorkloadException(string message) : ArgumentException(message);

/// <summary>One step: its 1-based number, the text exactly as written (split on ';', trimmed), verb and arguments.</summary>
/// <param name="Number">The step's 1-based number in the workload.</param>
/// <param name="SourceLine">The 1-based line of the file it is on.</param>
/// <param name="Line">The step's text as written (trimmed).</param>
/// <param name="Verb">The first word: write, mkdir, snapshot, qgroup...</param>
/// <param name="Args">The words after the verb.</param>
public sealed record WorkloadStep(int Number, int SourceLine, string Line, string Verb, string[] Args)
{
    /// <summary>True for a <c>write</c> step.</summary>
    public bool IsWrite => Verb == "write";
}

/// <summary>
/// A replay workload (README, "Workload language"): one step per line, '#' comments, ';' separating steps, sizes with
/// K/M/G/T (powers of 1024), paths relative to the top-level subvolume, header line <c>size 1G</c>.
/// </summary>
/// <param name="Size">The size from the <c>size</c> header line in bytes; null when there is none.</param>
/// <param name="Steps">The steps in order.</param>
public sealed record Workload(ulong? Size, IReadOnlyList<WorkloadStep> Steps)
{
    private static readonly Dictionary<string, (int Min, int Max)> Arity = new()
    {
        ["quota"] = (1, 1), ["qgroup"] = (2, 3), ["limit"] = (3, 3), ["write"] = (3, 4), ["fallocate"] = (3, 4),
        ["punch"] = (3, 3), ["zero"] = (3, 3), ["truncate"] = (2, 2), ["fsync"] = (1, 1), ["sync"] = (0, 0),
        ["rm"] = (1, 1), ["mkdir"] = (1, 1), ["reflink"] = (2, 2), ["clone"] = (5, 5), ["snapshot"] = (1, 5),
        ["subvol"] = (1, 4),
    };

    /// <summary>Reads and parses the workload file <paramref name="path"/>.</summary>
    /// <exception cref="WorkloadException">A line is not valid; the message names the file and line.</exception>
    public static Workload Load(string path) => Parse(File.ReadAllText(path), path);

    /// <summary>
    /// Parses workload <paramref name="text"/>; <paramref name="source"/> names it in error messages.
    /// </summary>
    /// <exception cref="WorkloadException">A line is not valid (unknown step, wrong arguments, bad size or qgroup id);
    /// the message names the source and line.</exception>
    public static Workload Parse(string text, string source = "workload")
    {
        ulong? size = null;
        var steps = new List<WorkloadStep>();
        var lines = text.Split('\n');
        for (int ln = 0; ln < lines.Length; ln++)
        {
            var raw = lines[ln];
            int hash = raw.IndexOf('#');
            if (hash >= 0) raw = raw[..hash];
            foreach (var part in raw.Split(';'))
            {
                var line = part.Trim();
                if (line.Length == 0) continue;
                var words = line.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
                string where = $"{source}:{ln + 1}";
                if (words[0] == "size")
                {
                    if (words.Length != 2) throw new WorkloadException($"{where}: 'size' takes one argument, e.g. 'size 1G'");
                    size = ParseSize(words[1], where, allowZero: false);
                    continue;
                }
                var step = new WorkloadStep(steps.Count + 1, ln + 1, line, words[0], words[1..]);
                Validate(step, where);
                steps.Add(step);
            }
        }
        return new Workload(size, steps);
    }

    private static void Validate(WorkloadStep s, string where)
    {
        if (!Arity.TryGetValue(s.Verb, out var a))
            throw new WorkloadException($"{where}: unknown step '{s.Verb}' (expected one of: {string.Join(", ", Arity.Keys)})");
        if (s.Args.Length < a.Min || s.Args.Length > a.Max)
            throw new WorkloadException($"{where}: '{s.Verb}' takes {(a.Min == a.Max ? a.Min.ToString(CultureInfo.InvariantCulture) : $"{a.Min} to {a.Max}")} arguments, got {s.Args.Length}: '{s.Line}'");
        var x = s.Args;
        switch (s.Verb)
        {
            case "quota" when x[0] is not ("enable" or "disable" or "rescan"):
                throw new WorkloadException($"{where}: 'quota {x[0]}': expected enable, disable or rescan");
            case "qgroup":
                switch (x[0])
                {
                    case "create" or "destroy" when x.Length == 2: Qgroup(x[1], where); break;
                    case "assign" or "remove" when x.Length == 3: Qgroup(x[1], where); Qgroup(x[2], where); break;
                    default: throw new WorkloadException($"{where}: expected 'qgroup create|destroy QG' or 'qgroup assign|remove CHILD PARENT': '{s.Line}'");
                }
                break;
            case "limit":
                if (x[0] is not ("excl" or "rfer")) throw new WorkloadException($"{where}: 'limit {x[0]}': expected excl or rfer");
                Qgroup(x[1], where);
                if (x[2] != "none") ParseSize(x[2], where, allowZero: true);
                break;
            case "write":
                ParseSize(x[1], where, true); ParseSize(x[2], where, true);
                if (x.Length == 4 && x[3] != "zeros" && !ulong.TryParse(x[3], NumberStyles.None, CultureInfo.InvariantCulture, out _))
                    throw new WorkloadException($"{where}: write data '{x[3]}': expected a decimal seed or 'zeros'");
                break;
            case "fallocate":
                ParseSize(x[1], where, true); ParseSize(x[2], where, false);
                if (x.Length == 4 && x[3] != "keep") throw new WorkloadException($"{where}: fallocate option '{x[3]}': expected 'keep'");
                break;
            case "punch" or "zero": ParseSize(x[1], where, true); ParseSize(x[2], where, false); break;
            case "truncate": ParseSize(x[1], where, true); break;
            case "clone": ParseSize(x[1], where, true); ParseSize(x[2], where, true); ParseSize(x[4], where, true); break;
            case "snapshot":
                SnapshotArgs(x, where);
                break;
            case "subvol":
                if (x[0] == "create") { if (x.Length != 2 && !(x.Length == 4 && x[2] == "-i")) throw new WorkloadException($"{where}: expected 'subvol create NAME [-i QG]'"); if (x.Length == 4) Qgroup(x[3], where); }
                else if (x[0] == "delete") { if (x.Length != 2) throw new WorkloadException($"{where}: expected 'subvol delete NAME'"); }
                else if (x[0] == "sync") { if (x.Length != 1) throw new WorkloadException($"{where}: expected 'subvol sync'"); }
                else throw new WorkloadException($"{where}: 'subvol {x[0]}': expected create, delete or sync");
                break;
        }
    }

    /// <summary>snapshot NAME [SRC] [ro] [-i QG].</summary>
    public static (string Name, string Source, bool ReadOnly, ulong? Inherit) SnapshotArgs(string[] x, string where)
    {
        string name = x[0], src = ".";
        bool ro = false;
        ulong? inherit = null;
        int i = 1;
        if (i < x.Length && x[i] != "ro" && x[i] != "-i") src = x[i++];
        if (i < x.Length && x[i] == "ro") { ro = true; i++; }
        if (i + 1 < x.Length && x[i] == "-i") { inherit = Qgroup(x[i + 1], where); i += 2; }
        if (i != x.Length) throw new WorkloadException($"{where}: expected 'snapshot NAME [SRC] [ro] [-i QG]'");
        return (name, src, ro, inherit);
    }

    /// <summary>
    /// Parses a qgroup id, "level/id" or a bare level-0 id; <paramref name="where"/> names the step in the error.
    /// </summary>
    /// <exception cref="WorkloadException">The text is not a qgroup id.</exception>
    public static ulong Qgroup(string text, string where) =>
        QgroupId.TryParse(text, out ulong q) ? q : throw new WorkloadException($"{where}: '{text}' is not a qgroup id (level/id)");

    /// <summary>A byte count: digits with an optional K/M/G/T suffix (powers of 1024).</summary>
    public static ulong ParseSize(string text, string where, bool allowZero)
    {
        if (text == "0" && allowZero) return 0;
        try { return (ulong)ImageOptions.ParseSize(text); }
        catch (ArgumentException ex) { throw new WorkloadException($"{where}: {ex.Message}"); }
    }
}
