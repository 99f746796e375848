using System.CommandLine;
using MiniDocker.Cli;
using MiniDocker.Cli.Commands;
using MiniDocker.Runtime;

// The container's init is this binary re-executed: keep its path free of argument parsing, it runs once per
// container start and before the user's program.
if (args.Length == 2 && args[0] == "init")
    return MiniDocker.Runtime.Init.ContainerInit.Run(args[1]);

var root = new RootCommand("MiniDocker: a small container runtime with networking built in");
root.Options.Add(Globals.Root);
root.Options.Add(Globals.Firewall);
// Docker's `run -h` is --hostname; help stays on --help.
foreach (var help in root.Options.OfType<System.CommandLine.Help.HelpOption>()) help.Aliases.Remove("-h");
foreach (var command in new[]
         {
             RunCommand.Create(), PsCommand.Create(), RmCommand.Create(), LogsCommand.Create(),
             ImageCommands.CreateImages(), ImageCommands.CreateImage(), InternalCommands.CreateMonitor(),
         }.Concat(LifecycleVerbs.Create()).Concat(NetworkVerbs.Create()))
    root.Subcommands.Add(command);

try
{
    var parsed = root.Parse(CommandSplitter.Split(root, args));
    if (parsed.Errors.Count > 0)
    {
        Console.Error.WriteLine($"minidocker: {parsed.Errors[0].Message}");
        Console.Error.WriteLine("See 'minidocker --help'.");
        return ExitCodes.RuntimeError;
    }
    Globals.CheckFirewallChoice(parsed);
    return parsed.Invoke(new InvocationConfiguration { EnableDefaultExceptionHandler = false });
}
catch (ContainerException e)
{
    Console.Error.WriteLine($"minidocker: {e.Message}");
    return e.ExitCode;
}
catch (Exception e) when (e is MiniDocker.Images.ImageException or MiniDocker.Network.NetworkException)
{
    // Each subsystem has its own error type (they do not know each other); all are runtime errors to the user.
    Console.Error.WriteLine($"minidocker: {e.Message}");
    return ExitCodes.RuntimeError;
}
