using System.CommandLine;
using BtrfsLite.Cli.Commands;

namespace BtrfsLite.Cli;

/// <summary>The btrfslite command line: every command, and the entry point.</summary>
public static class Program
{
    public static int Main(string[] args) => CliRunner.Run(Build(), args);

    /// <summary>The root command with every subcommand (also what tests run in-process).</summary>
    public static RootCommand Build()
    {
        var root = new RootCommand("btrfslite: create, change and verify btrfs images (one device, crc32c, skinny metadata)");
        root.Options.Add(FsCli.WaitOption);
        root.Options.Add(FsCli.VerifyAccountingOption);
        root.Subcommands.Add(DumpSuperCommand.Create());
        root.Subcommands.Add(DumpTreeCommand.Create());
        root.Subcommands.Add(CheckCommand.Create());
        root.Subcommands.Add(MkfsCommand.Create());
        root.Subcommands.Add(DemoCommand.Create());
        foreach (var c in FileCommands.Create()) root.Subcommands.Add(c);
        root.Subcommands.Add(CopyInCommand.Create());
        root.Subcommands.Add(SubvolumeCommands.Create());
        root.Subcommands.Add(ReplayCommand.Create());
        foreach (var c in SubvolumeCommands.CreateReflink()) root.Subcommands.Add(c);
        root.Subcommands.Add(QuotaCommands.CreateQuota());
        root.Subcommands.Add(QuotaCommands.CreateQgroup());
        return root;
    }
}
