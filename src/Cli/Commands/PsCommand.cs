using System.CommandLine;
using System.Globalization;
using System.Text.Json.Nodes;
using MiniDocker.Cli.Templates;
using MiniDocker.Network;
using MiniDocker.Runtime;

namespace MiniDocker.Cli.Commands;

/// <summary>`minidocker ps [-a] [-q] [--no-trunc] [--format table|json|TEMPLATE]`</summary>
public static class PsCommand
{
    public static Command Create()
    {
        var all = new Option<bool>("--all", "-a") { Description = "Show all containers (default shows just running)" };
        var quiet = new Option<bool>("--quiet", "-q") { Description = "Only display container IDs" };
        var noTrunc = new Option<bool>("--no-trunc") { Description = "Don't truncate output" };
        var format = new Option<string?>("--format")
        {
            Description = "Format output: 'table' (default), 'table TEMPLATE' (with column headers), 'json', or a Go " +
                "template such as '{{.Names}}'. Fields: .ID .Names .Image .Command .CreatedAt .RunningFor .Status .Ports " +
                ".State .Labels .Networks .Mounts .LocalVolumes .Size",
        };
        var command = new Command("ps", "List containers") { all, quiet, noTrunc, format };
        command.SetAction(p =>
        {
            var now = DateTimeOffset.UtcNow;
            var rows = LifecycleVerbs.WithLazyHooks(p).List()
                .Where(o => p.GetValue(all) || o.Status is ContainerStatus.Running or ContainerStatus.Restarting)
                .OrderByDescending(o => o.Entry.Config.Created).ToList();
            if (p.GetValue(quiet))
            {
                foreach (var (e, _) in rows) Console.WriteLine(p.GetValue(noTrunc) ? e.Config.Id : e.Config.ShortId);
                return 0;
            }
            // As Docker shows them: the host ports a running container holds now ("0.0.0.0:8080->80/tcp"), read from
            // the network store's endpoint records (a stopped container holds none).
            var ports = NetworkManager.EndpointsOf(Globals.StateRoot(p))
                .GroupBy(e => e.ContainerId)
                .ToDictionary(g => g.Key, g => string.Join(", ", g.SelectMany(e => e.Ports)));
            var objects = rows.Select(o => Row(o, ports.GetValueOrDefault(o.Entry.Config.Id, ""), !p.GetValue(noTrunc), now)).ToList();
            return FormatOutput.List(p.GetValue(format), objects, DockerHeaders.ContainerTable, DockerHeaders.Container);
        });
        return command;
    }

    /// <summary>A container as Docker's ps formatter shows it: the fields of `--format`, with Docker's values (and in
    /// Docker's order, which is what `--format json` prints).</summary>
    public static JsonObject Row(Lifecycle.Observed observed, string ports, bool truncate, DateTimeOffset now)
    {
        var (entry, status) = observed;
        var c = entry.Config;
        string command = string.Join(' ', c.Args);
        return new JsonObject
        {
            ["Command"] = GoText.Quote(truncate ? Ellipsis(command, 20) : command),
            ["CreatedAt"] = GoTime(c.Created),
            ["ID"] = truncate ? c.ShortId : c.Id,
            ["Image"] = c.Image,
            ["Labels"] = "",
            ["LocalVolumes"] = "0",
            ["Mounts"] = "",
            ["Names"] = c.Name,
            ["Networks"] = c.NetworkMode,
            ["Ports"] = ports,
            ["RunningFor"] = Lifecycle.Humanize(now - c.Created) + " ago",
            ["Size"] = "0B",
            ["State"] = status.ToString().ToLowerInvariant(),
            ["Status"] = Lifecycle.Describe(entry.State, status, now),
        };
    }

    /// <summary>Docker's formatter.Ellipsis: at most <paramref name="width"/> characters, the last one "…" when cut.</summary>
    public static string Ellipsis(string s, int width)
    {
        var runes = s.EnumerateRunes().ToList();
        return runes.Count <= width ? s : string.Concat(runes.Take(width - 1).Select(r => r.ToString())) + "…";
    }

    /// <summary>Go's time.Time.String() in local time, as Docker's CreatedAt: "2024-05-01 12:00:00 +0000 UTC".</summary>
    public static string GoTime(DateTimeOffset t)
    {
        var local = t.ToLocalTime();
        var offset = local.Offset;
        string sign = offset < TimeSpan.Zero ? "-" : "+";
        string numeric = $"{sign}{Math.Abs(offset.Hours):00}{Math.Abs(offset.Minutes):00}";
        // Go names the zone by its abbreviation; without one (or without time zone data) it repeats the offset.
        string zone = offset == TimeSpan.Zero ? "UTC"
            : TimeZoneInfo.Local.IsDaylightSavingTime(local) ? TimeZoneInfo.Local.DaylightName : TimeZoneInfo.Local.StandardName;
        if (zone.Length is 0 or > 5 || zone.Contains(' ')) zone = numeric;
        return local.ToString("yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture) + " " + numeric + " " + zone;
    }
}
