using System.CommandLine;
using BtrfsLite.Cli;
using BtrfsLite.Cli.Commands;

var root = new RootCommand("btrfslite: create, change and verify btrfs images (one device, crc32c, skinny metadata)");
root.Subcommands.Add(DumpSuperCommand.Create());
root.Subcommands.Add(DumpTreeCommand.Create());
root.Subcommands.Add(CheckCommand.Create());
root.Subcommands.Add(MkfsCommand.Create());
root.Subcommands.Add(DemoCommand.Create());
return CliRunner.Run(root, args);
