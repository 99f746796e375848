using System.CommandLine;
using System.Text.Json;
using MiniDocker.Network;
using MiniDocker.Runtime;

namespace MiniDocker.Cli.Commands;

/// <summary>`minidocker ps [-a] [-q] [--format json]`</summary>
public static class PsCommand
{
    public static Command Create()
    {
        var all = new Option<bool>("--all", "-a") { Description = "Show all containers (default shows just running)" };
        var quiet = new Option<bool>("--quiet", "-q") { Description = "Only display container IDs" };
        var format = new Option<string?>("--format") { Description = "\"table\" (default) or \"json\"" };
        var command = new Command("ps", "List containers") { all, quiet, format };
        command.SetAction(p =>
        {
            var now = DateTimeOffset.UtcNow;
            var rows = LifecycleVerbs.WithoutHooks(p).List()
                .Where(o => p.GetValue(all) || o.Status is ContainerStatus.Running or ContainerStatus.Restarting)
                .OrderByDescending(o => o.Entry.Config.Created).ToList();
            if (p.GetValue(quiet))
            {
                foreach (var (e, _) in rows) Console.WriteLine(e.Config.ShortId);
                return 0;
            }
            // As Docker shows them: the host ports a running container holds now ("0.0.0.0:8080->80/tcp"), read from
            // the network store's endpoint records (a stopped container holds none).
            var ports = new NetworkStore(Globals.StateRoot(p)).Endpoints(null)
                .GroupBy(e => e.ContainerId)
                .ToDictionary(g => g.Key, g => string.Join(", ", g.SelectMany(e => e.Ports)));
            string PortsOf(ContainerStore.Entry e) => ports.GetValueOrDefault(e.Config.Id, "");
            if (p.GetValue(format) == "json")
            {
                foreach (var (e, status) in rows)
                {
                    using var ms = new MemoryStream();
                    using (var w = new Utf8JsonWriter(ms))
                    {
                        w.WriteStartObject();
                        w.WriteString("ID", e.Config.ShortId);
                        w.WriteString("Image", e.Config.Image);
                        w.WriteString("Command", string.Join(' ', e.Config.Args));
                        w.WriteString("CreatedAt", e.Config.Created);
                        w.WriteString("State", status.ToString().ToLowerInvariant());
                        w.WriteString("Status", Lifecycle.Describe(e.State, status, now));
                        w.WriteString("Ports", PortsOf(e));
                        w.WriteString("Names", e.Config.Name);
                        w.WriteEndObject();
                    }
                    Console.WriteLine(System.Text.Encoding.UTF8.GetString(ms.ToArray()));
                }
                return 0;
            }
            var table = new Table("CONTAINER ID", "IMAGE", "COMMAND", "CREATED", "STATUS", "PORTS", "NAMES");
            foreach (var (e, status) in rows)
            {
                string cmd = string.Join(' ', e.Config.Args);
                if (cmd.Length > 20) cmd = cmd[..19] + "…";
                table.Add(e.Config.ShortId, e.Config.Image, $"\"{cmd}\"",
                    Lifecycle.Humanize(now - e.Config.Created) + " ago", Lifecycle.Describe(e.State, status, now),
                    PortsOf(e), e.Config.Name);
            }
            table.Print();
            return 0;
        });
        return command;
    }
}
