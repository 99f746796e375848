using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Text.Json.Nodes;
using MiniDocker.Cli.Templates;
using MiniDocker.Runtime;
using MiniDocker.Runtime.Cgroups;

namespace MiniDocker.Cli.Commands;

/// <summary>`minidocker stats [--no-stream] [--format json|TEMPLATE] [CONTAINER...]`: Docker's columns from each
/// container's cgroup and network namespace; refreshed every second on a terminal, one snapshot otherwise.</summary>
public static class StatsCommand
{
    public const string DefaultTable = "table {{.ID}}\t{{.Name}}\t{{.CPUPerc}}\t{{.MemUsage}}\t{{.MemPerc}}\t{{.NetIO}}\t{{.BlockIO}}\t{{.PIDs}}";

    public static readonly IReadOnlyDictionary<string, string> Headers = new Dictionary<string, string>
    {
        ["Container"] = "CONTAINER", ["ID"] = "CONTAINER ID", ["Name"] = "NAME", ["CPUPerc"] = "CPU %",
        ["MemUsage"] = "MEM USAGE / LIMIT", ["MemPerc"] = "MEM %", ["NetIO"] = "NET I/O", ["BlockIO"] = "BLOCK I/O",
        ["PIDs"] = "PIDS",
    };

    private static readonly TimeSpan Interval = TimeSpan.FromMilliseconds(500);

    public static Command Create()
    {
        var noStream = new Option<bool>("--no-stream") { Description = "Disable streaming stats and only pull the first result" };
        var format = new Option<string?>("--format") { Description = "Format output: 'table', 'json' or a Go template" };
        var all = new Option<bool>("--all", "-a") { Description = "Show all containers (default shows just running)" };
        var containers = new Argument<string[]>("CONTAINER") { Arity = ArgumentArity.ZeroOrMore };
        var command = new Command("stats", "Display a live stream of container(s) resource usage statistics") { noStream, format, all, containers };
        command.SetAction(p =>
        {
            var lifecycle = LifecycleVerbs.WithLazyHooks(p);
            var cgroups = CgroupManagers.ForRoot(Globals.StateRoot(p));
            var references = p.GetValue(containers) ?? [];
            // Named containers must exist (Docker: "No such container"); without names, the running ones.
            var named = references.Select(r => (Reference: r, Observed: lifecycle.Find(r))).ToList();
            bool stream = !p.GetValue(noStream) && !Console.IsOutputRedirected;
            var previous = new Dictionary<string, Sample>();
            while (true)
            {
                var targets = references.Length > 0
                    ? named.Select(n => (n.Reference, Observed: lifecycle.Find(n.Observed.Entry.Config.Id))).ToList()
                    : lifecycle.List().Where(o => p.GetValue(all) || o.Status == ContainerStatus.Running)
                        .Select(o => (Reference: o.Entry.Config.ShortId, Observed: o)).ToList();
                if (previous.Count == 0)
                {
                    // CPU % is a rate: a first reading, then the one shown.
                    foreach (var (_, o) in targets) previous[o.Entry.Config.Id] = Sample.Take(cgroups, o);
                    Thread.Sleep(Interval);
                }
                var rows = new List<JsonObject>();
                foreach (var (reference, o) in targets)
                {
                    var now = Sample.Take(cgroups, o);
                    rows.Add(Row(reference, o, now, previous.GetValueOrDefault(o.Entry.Config.Id)));
                    previous[o.Entry.Config.Id] = now;
                }
                string text;
                try { text = FormatOutput.RenderList(p.GetValue(format), rows, DefaultTable, Headers); }
                catch (TemplateException e)
                {
                    Console.Error.WriteLine($"minidocker: template parsing error: {e.Message}");
                    return FormatOutput.TemplateErrorExitCode;
                }
                if (stream) Console.Write("\x1b[2J\x1b[H"); // clear the screen, as docker stats does
                Console.Write(text);
                Console.Out.Flush();
                if (!stream) return 0;
                Thread.Sleep(TimeSpan.FromSeconds(1));
            }
        });
        return command;
    }

    /// <summary>One reading: the cgroup's counters, the network namespace's byte counts and when they were read.</summary>
    public sealed record Sample(CgroupStats? Cgroup, ulong NetRx, ulong NetTx, long Timestamp)
    {
        public static Sample Take(ICgroupManager cgroups, Lifecycle.Observed o)
        {
            CgroupStats? stats = null;
            ulong rx = 0, tx = 0;
            if (o.Status == ContainerStatus.Running)
            {
                try { stats = cgroups.Stats(o.Entry.Config.Id); }
                catch (Exception e) when (e is IOException or UnauthorizedAccessException) { }
                (rx, tx) = NetworkBytes(o.Entry.State.Pid);
            }
            return new Sample(stats, rx, tx, Stopwatch.GetTimestamp());
        }
    }

    /// <summary>Bytes received and sent on the container's interfaces but loopback, from /proc/PID/net/dev (the
    /// counters of the network namespace PID is in).</summary>
    public static (ulong Rx, ulong Tx) NetworkBytes(int pid)
    {
        try { return ParseNetDev(File.ReadAllText($"/proc/{pid}/net/dev")); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { return (0, 0); }
    }

    public static (ulong Rx, ulong Tx) ParseNetDev(string text)
    {
        ulong rx = 0, tx = 0;
        // "  eth0: RXBYTES packets errs drop fifo frame compressed multicast TXBYTES ..." after two header lines.
        foreach (var line in text.Split('\n').Skip(2))
        {
            int colon = line.IndexOf(':');
            if (colon < 0 || line[..colon].Trim() == "lo") continue;
            var f = line[(colon + 1)..].Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (f.Length < 9) continue;
            rx += ulong.TryParse(f[0], out var r) ? r : 0;
            tx += ulong.TryParse(f[8], out var t) ? t : 0;
        }
        return (rx, tx);
    }

    public static JsonObject Row(string reference, Lifecycle.Observed o, Sample now, Sample? before)
    {
        var c = now.Cgroup;
        double cpu = 0;
        if (c is not null && before?.Cgroup is { } b && now.Timestamp > before.Timestamp && c.CpuUsageNanos >= b.CpuUsageNanos)
        {
            // Docker's CPU %: CPU time used over the interval, in percent of one CPU (200% is two busy CPUs).
            double wallNanos = Stopwatch.GetElapsedTime(before.Timestamp, now.Timestamp).TotalMilliseconds * 1e6;
            cpu = (c.CpuUsageNanos - b.CpuUsageNanos) / wallNanos * 100;
        }
        ulong limit = c is null ? 0 : c.MemoryLimit > 0 ? c.MemoryLimit : HostMemory();
        ulong usage = c?.MemoryUsage ?? 0;
        double memPercent = limit > 0 ? usage * 100.0 / limit : 0;
        return new JsonObject
        {
            ["BlockIO"] = $"{DecimalSize(c?.BlockRead ?? 0)} / {DecimalSize(c?.BlockWrite ?? 0)}",
            ["CPUPerc"] = Percent(cpu),
            ["Container"] = reference,
            ["ID"] = o.Entry.Config.ShortId,
            ["MemPerc"] = Percent(memPercent),
            ["MemUsage"] = $"{BinarySize(usage)} / {BinarySize(limit)}",
            ["Name"] = o.Entry.Config.Name,
            ["NetIO"] = $"{DecimalSize(now.NetRx)} / {DecimalSize(now.NetTx)}",
            ["PIDs"] = (c?.Pids ?? 0).ToString(CultureInfo.InvariantCulture),
        };
    }

    private static string Percent(double v) => v.ToString("0.00", CultureInfo.InvariantCulture) + "%";

    /// <summary>go-units BytesSize ("%.4g" and KiB, MiB...), Docker's memory column.</summary>
    public static string BinarySize(double size) => Size(size, 1024, ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"], 4);

    /// <summary>go-units HumanSizeWithPrecision(size, 3) (kB, MB...), Docker's network and block I/O columns.</summary>
    public static string DecimalSize(double size) => Size(size, 1000, ["B", "kB", "MB", "GB", "TB", "PB", "EB"], 3);

    private static string Size(double size, double unit, string[] names, int precision)
    {
        int i = 0;
        while (size >= unit && i < names.Length - 1)
        {
            size /= unit;
            i++;
        }
        return size.ToString("G" + precision, CultureInfo.InvariantCulture) + names[i];
    }

    private static ulong HostMemory()
    {
        try
        {
            // "MemTotal:       24683840 kB"
            var line = File.ReadLines("/proc/meminfo").First(l => l.StartsWith("MemTotal:", StringComparison.Ordinal));
            return ulong.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture) * 1024;
        }
        catch (Exception e) when (e is IOException or InvalidOperationException or FormatException) { return 0; }
    }
}
