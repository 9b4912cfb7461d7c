using System.CommandLine;

namespace BtrfsLite.Cli.Commands;

// Placeholder: replaced by the command's implementation.
internal static class DumpSuperCommand
{
    public static Command Create()
    {
        var cmd = new Command("dump-super", "not implemented yet");
        cmd.SetAction(_ => 0);
        return cmd;
    }
}
