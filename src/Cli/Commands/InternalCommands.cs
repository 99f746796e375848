using System.CommandLine;
using MiniDocker.Runtime;

namespace MiniDocker.Cli.Commands;

/// <summary>Roles minidocker plays when it re-executes itself; not for users (`init` is dispatched in Program).</summary>
public static class InternalCommands
{
    public static Command CreateMonitor()
    {
        var id = new Argument<string>("ID");
        // Set by the monitor's relay role when it hands back (see MonitorRelay).
        var resume = new Option<string?>("--resume") { Hidden = true };
        var ownerFd = new Option<int>("--owner-fd") { Hidden = true };
        var quickExits = new Option<int>("--quick-exits") { Hidden = true };
        var command = new Command("monitor", "Internal: own a detached container's stdio and exit status") { id, resume, ownerFd, quickExits };
        command.Hidden = true;
        command.SetAction(p => ContainerMonitor.Run(Globals.Launcher(p), Globals.Containers(p), p.GetValue(id)!,
            p.GetValue(resume) is { } r ? MonitorResume.Parse(r, p.GetValue(ownerFd), p.GetValue(quickExits)) : null));
        return command;
    }
}
