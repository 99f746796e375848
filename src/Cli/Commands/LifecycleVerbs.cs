using System.CommandLine;

namespace MiniDocker.Cli.Commands;

/// <summary>The lifecycle verbs beyond run/ps/rm/logs (exec, stop, kill, start, restart, wait, rename, inspect, system).</summary>
public static class LifecycleVerbs
{
    public static IEnumerable<Command> Create() => [];
}
