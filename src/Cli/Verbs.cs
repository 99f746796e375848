using System.CommandLine;
using MiniDocker.Cli.Commands;

namespace MiniDocker.Cli;

/// <summary>
/// Every top-level verb, grouped by the factory that makes it, with the names and aliases each group answers to. A
/// command line that names a verb builds only that verb's group: the whole tree (about 40 commands, 300 options)
/// cost ~2 ms of every command, and `run` pays it before the container starts (bench/README, stop 19). Anything
/// else (no verb, --help, an unknown word) builds them all, so help and Docker's "is not a minidocker command" are
/// as before. VerbsTests checks the names here against what the factories make.
/// </summary>
public static class Verbs
{
    public sealed record Group(string[] Names, Func<IEnumerable<Command>> Create);

    public static readonly Group[] Groups =
    [
        new(["run"], () => [RunCommand.Create()]),
        new(["ps"], () => [PsCommand.Create()]),
        new(["rm"], () => [RmCommand.Create()]),
        new(["logs"], () => [LogsCommand.Create()]),
        new(["images"], () => [ImageCommands.CreateImages()]),
        new(["image"], () => [ImageCommands.CreateImage()]),
        new(["rmi"], () => [ImageCommands.CreateRmi()]),
        new(["monitor"], () => [InternalCommands.CreateMonitor()]),
        new(["update"], () => [UpdateCommand.Create()]),
        new(["stats"], () => [StatsCommand.Create()]),
        new(["volume"], () => [VolumeCommands.Create()]),
        new(["exec", "exec-init", "stop", "kill", "start", "restart", "wait", "rename", "inspect", "system"], LifecycleVerbs.Create),
        new(["network", "port"], Network),
        new(["pull", "tag", "history"], PullCommands.Create),
        new(["save"], SaveCommand.Create),
        new(["load"], LoadCommand.Create),
        new(["commit"], CommitCommand.Create),
        new(["export"], ExportCommand.Create),
        new(["login", "logout", "push"], RegistryAuthCommands.Create),
        new(["doctor"], () => [DoctorCommand.Create()]),
    ];

    /// <summary>The commands to add to the root for <paramref name="verb"/> (null: every one).</summary>
    public static IEnumerable<Command> For(string? verb) =>
        Groups.FirstOrDefault(g => verb is not null && g.Names.Contains(verb)) is { } group ? group.Create() : All();

    public static IEnumerable<Command> All() => Groups.SelectMany(g => g.Create());

    private static IEnumerable<Command> Network()
    {
        var commands = NetworkVerbs.Create().ToList();
        commands.First(c => c.Name == "network").Subcommands.Add(NetworkTraceCommand.Create());
        return commands;
    }
}
