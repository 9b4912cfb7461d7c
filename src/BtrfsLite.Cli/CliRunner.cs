using System.CommandLine;
using BtrfsLite.Format;
using BtrfsLite.Fs;

namespace BtrfsLite.Cli;

/// <summary>Parses, runs, and turns every expected failure into a message on stderr and an exit code (never a crash).</summary>
public static class CliRunner
{
    private static IEnumerable<string> CommandPath(System.CommandLine.Parsing.CommandResult r)
    {
        var names = new List<string>();
        for (var c = r; c != null && c.Command is not RootCommand; c = c.Parent as System.CommandLine.Parsing.CommandResult) names.Add(c.Command.Name);
        names.Reverse();
        return names;
    }

    public static int Run(RootCommand root, string[] args)
    {
        // No command, or `help [COMMAND...]`: the help text (of the root or of that command).
        if (args.Length == 0 || args[0] == "help")
        {
            var help = root.Parse(args.Skip(1).Append("--help").ToArray());
            if (help.Errors.Count == 0 && help.UnmatchedTokens.Count == 0)
            {
                help.Invoke();
                return args.Length == 0 ? ExitCodes.Usage : ExitCodes.Ok;
            }
            Console.Error.WriteLine($"ERROR: unknown command: {string.Join(' ', args.Skip(1))}");
            Console.Error.WriteLine("see: btrfslite --help");
            return ExitCodes.Usage;
        }
        var parse = root.Parse(args);
        if (parse.Errors.Count > 0)
        {
            // One line per distinct problem (two missing arguments give System.CommandLine's message twice).
            foreach (var m in parse.Errors.Select(e => e.Message).Distinct()) Console.Error.WriteLine($"ERROR: {m}");
            var cmd = parse.CommandResult.Command;
            Console.Error.WriteLine($"see: btrfslite {(cmd is RootCommand ? "" : string.Join(' ', CommandPath(parse.CommandResult)) + " ")}--help");
            return ExitCodes.Usage;
        }
        Commands.FsCli.Wait = parse.GetValue(Commands.FsCli.WaitOption);
        Commands.FsCli.VerifyAccounting = parse.GetValue(Commands.FsCli.VerifyAccountingOption);
        try
        {
            // System.CommandLine's default handler would print a stack trace and return 1; map exceptions here instead.
            return parse.Invoke(new InvocationConfiguration { EnableDefaultExceptionHandler = false });
        }
        catch (FsException ex)
        {
            // The file system refused the operation (ENOENT, EEXIST, ENOTEMPTY, ...): the transaction was aborted.
            Console.Error.WriteLine($"ERROR: {ex.Message}");
            return ExitCodes.Findings;
        }
        catch (NoSpaceException ex)
        {
            // ENOSPC is the file system refusing, like EDQUOT: exit 1, the errno first; nothing was committed.
            Console.Error.WriteLine($"ERROR: {ex.Message}");
            return ExitCodes.Findings;
        }
        catch (ImageInUseException ex)
        {
            // Another program holds the image, or a mounted file system uses it: nothing was read or written.
            Console.Error.WriteLine($"ERROR: {ex.Message}");
            return ExitCodes.InUse;
        }
        catch (BtrfsUnsupportedException ex)
        {
            Console.Error.WriteLine($"ERROR: unsupported: {ex.Message}");
            return ExitCodes.Unsupported;
        }
        catch (InvalidDataException ex)
        {
            Console.Error.WriteLine($"ERROR: corrupt: {ex.Message}");
            return ExitCodes.Corrupt;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            Console.Error.WriteLine($"ERROR: {ex.Message}");
            return ExitCodes.IoError;
        }
        catch (ArgumentException ex)
        {
            Console.Error.WriteLine($"ERROR: {ex.Message}");
            return ExitCodes.Usage;
        }
        catch (Exception ex)
        {
            // A state the library refuses to go on from (a bug to report): a message naming the exception, never a
            // stack trace; a writing command aborted its session, so the image keeps its last commit.
            Console.Error.WriteLine($"ERROR: internal: {(ex is InvalidOperationException ? "" : ex.GetType().Name + ": ")}{ex.Message}");
            return ExitCodes.Internal;
        }
    }
}
