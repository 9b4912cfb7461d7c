using System.CommandLine;

namespace BtrfsLite.Cli.Commands;

// Placeholder: replaced by the command's implementation.
internal static class CheckCommand
{
    public static Command Create()
    {
        var cmd = new Command("check", "not implemented yet");
        cmd.SetAction(_ => 0);
        return cmd;
    }
}
