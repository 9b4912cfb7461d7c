using BtrfsLite.Cli;

namespace BtrfsLite.Tests.Support;

/// <summary>Tests that run the real CLI code in this process (Console is redirected for the call): never in parallel.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class InProcessCliCollection
{
    public const string Name = "in-process CLI";
}

/// <summary>Runs <c>btrfslite ARGS</c> through <see cref="Program.Build"/> and <see cref="CliRunner"/> in this process.</summary>
public static class InProcessCli
{
    private static readonly object Gate = new();

    public static RealTools.Result Run(params string[] args)
    {
        lock (Gate)
        {
            var (oldOut, oldErr) = (Console.Out, Console.Error);
            var so = new StringWriter();
            var se = new StringWriter();
            Console.SetOut(so);
            Console.SetError(se);
            try
            {
                int rc = CliRunner.Run(Program.Build(), args);
                return new RealTools.Result(rc, so.ToString(), se.ToString());
            }
            finally
            {
                Console.SetOut(oldOut);
                Console.SetError(oldErr);
            }
        }
    }
}
