using System.CommandLine;

namespace BtrfsLite.Cli.Commands;

// Placeholder: replaced by the command's implementation.
internal static class DumpTreeCommand
{
    public static Command Create()
    {
        var cmd = new Command("dump-tree", "not implemented yet");
        cmd.SetAction(_ => 0);
        return cmd;
    }
}
