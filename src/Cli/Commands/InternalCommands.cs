using System.CommandLine;
using MiniDocker.Runtime;

namespace MiniDocker.Cli.Commands;

/// <summary>Roles minidocker plays when it re-executes itself; not for users (`init` is dispatched in Program).</summary>
public static class InternalCommands
{
    public static Command CreateMonitor()
    {
        var id = new Argument<string>("ID");
        var command = new Command("monitor", "Internal: own a detached container's stdio and exit status") { id };
        command.Hidden = true;
        command.SetAction(p => ContainerMonitor.Run(Globals.Launcher(p), Globals.Containers(p), p.GetValue(id)!));
        return command;
    }
}
