using System.CommandLine;
using MiniDocker.Runtime;

namespace MiniDocker.Cli.Commands;

/// <summary>The lifecycle verbs beyond run/ps/rm/logs (exec, stop, kill, start, restart, wait, rename, inspect, system).</summary>
public static class LifecycleVerbs
{
    public static IEnumerable<Command> Create() =>
    [
        ExecCommand.Create(), ExecCommand.CreateInit(), StopCommand.Create(), KillCommand.Create(), StartCommand.Create(),
        RestartCommand.Create(), WaitCommand.Create(), RenameCommand.Create(), InspectCommand.Create(), SystemCommand.Create(),
    ];

    /// <summary>Verbs that rarely need the hooks: they are built only if a crashed container's network must be undone.</summary>
    public static Lifecycle WithLazyHooks(ParseResult p) => new(Globals.Containers(p), new LazyHooks(() => Globals.Hooks(p)));

    public static Lifecycle WithHooks(ParseResult p) => new(Globals.Containers(p), Globals.Hooks(p));

    /// <summary>Docker's multi-container verbs: each container in turn, an error reported and the next one tried;
    /// exit status 1 if any failed.</summary>
    public static int ForEach(IEnumerable<string> references, Action<string> action)
    {
        int rc = 0;
        foreach (var reference in references)
        {
            try { action(reference); }
            catch (MiniDocker.Linux.MiniDockerException e)
            {
                Console.Error.WriteLine($"minidocker: {e.Message}");
                rc = 1;
            }
        }
        return rc;
    }
}
