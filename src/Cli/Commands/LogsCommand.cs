using System.CommandLine;
using MiniDocker.Runtime;

namespace MiniDocker.Cli.Commands;

/// <summary>`minidocker logs [-f] [--tail N] [-t] CONTAINER`</summary>
public static class LogsCommand
{
    public static Command Create()
    {
        var follow = new Option<bool>("--follow", "-f") { Description = "Follow log output" };
        var tail = new Option<string?>("--tail", "-n") { Description = "Number of lines to show from the end (or \"all\")" };
        var timestamps = new Option<bool>("--timestamps", "-t") { Description = "Show timestamps" };
        var container = new Argument<string>("CONTAINER");
        var command = new Command("logs", "Fetch the logs of a container") { follow, tail, timestamps, container };
        command.SetAction(p =>
        {
            var store = Globals.Containers(p);
            var entry = store.Find(p.GetValue(container)!);
            string? t = p.GetValue(tail);
            int? lines = t is null or "all" ? null
                : int.TryParse(t, out int n) ? n : throw new ContainerException($"invalid --tail value \"{t}\"");
            ContainerLog.Copy(ContainerLog.PathOf(store, entry.Config.Id), lines, p.GetValue(timestamps), p.GetValue(follow),
                () => new Lifecycle(store, []).IsActive(entry.Config.Id),
                Console.OpenStandardOutput(), Console.OpenStandardError());
            return 0;
        });
        return command;
    }
}
