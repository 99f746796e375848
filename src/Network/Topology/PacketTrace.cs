using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.RegularExpressions;
using MiniDocker.Netlink;

namespace MiniDocker.Network.Topology;

/// <summary>One nftables trace event: "trace id ID FAMILY TABLE CHAIN (packet: ...|rule ... (verdict V)|policy V)".</summary>
public sealed record TraceEvent(string Where, string Id, string Family, string Table, string Chain, string Kind, string Detail)
{
    public bool IsDrop => Detail.Contains("verdict drop", StringComparison.Ordinal) || Kind == "policy" && Detail.StartsWith("drop", StringComparison.Ordinal) ||
                          Detail.Contains("verdict reject", StringComparison.Ordinal);

    private static readonly Regex Line = new(@"^trace id (\S+) (\S+) (\S+) (\S+) (packet:|rule|policy|verdict)\s*(.*)$", RegexOptions.Compiled);

    public static TraceEvent? Parse(string where, string line)
    {
        var m = Line.Match(line.Trim());
        return m.Success ? new TraceEvent(where, m.Groups[1].Value, m.Groups[2].Value, m.Groups[3].Value, m.Groups[4].Value,
            m.Groups[5].Value.TrimEnd(':'), m.Groups[6].Value.Trim()) : null;
    }
}

/// <summary>Where a probe goes out and which namespaces it crosses; each gets a trace table and a monitor.</summary>
/// <param name="SourceNetns">Null: the probe leaves from the host.</param>
/// <param name="TargetNetns">The namespace of the container that should receive it (after any DNAT), or null.</param>
public sealed record TraceRequest(string Protocol, IPEndPoint Destination, string? SourceNetns, string SourceLabel,
    string? TargetNetns, string TargetLabel, TimeSpan Timeout);

public sealed record TraceResult(int SourcePort, string Outcome, IReadOnlyList<TraceEvent> Events);

/// <summary>
/// Sends one probe and records its path with nftables tracing: a temporary table of our own per namespace
/// (host, source container, target container) whose rule sets "meta nftrace" on the probe's packets only
/// (protocol and the probe's bound source port, and in the sending namespace its destination), read back by
/// "nft monitor trace". The tables are removed afterwards, also on failure; tables that a killed trace left
/// (named after a pid that no longer runs) are removed by the next trace.
/// </summary>
public static class PacketTrace
{
    public const string TablePrefix = "minidocker_trace_";

    public static TraceResult Run(TraceRequest request, CancellationToken cancel)
    {
        SweepStale(null);
        string table = TablePrefix + Environment.ProcessId;
        bool tcp = request.Protocol == "tcp";
        // Bound first, so the rules can name the source port before the first packet exists.
        using var socket = Open(request.SourceNetns, tcp);
        int sport = ((IPEndPoint)socket.LocalEndPoint!).Port;
        var places = new List<(string Label, string? Netns, string Chains)>();
        string match = $"meta l4proto {request.Protocol} th sport {sport}";
        string outbound = $"{match} ip daddr {request.Destination.Address} th dport {request.Destination.Port}";
        if (request.SourceNetns is null)
            places.Add(("host", null, Chain("out", "output", outbound) + Chain("pre", "prerouting", match)));
        else
        {
            places.Add((request.SourceLabel, request.SourceNetns, Chain("out", "output", outbound)));
            places.Add(("host", null, Chain("pre", "prerouting", match)));
        }
        if (request.TargetNetns is not null && request.TargetNetns != request.SourceNetns)
            places.Add((request.TargetLabel, request.TargetNetns, Chain("pre", "prerouting", match)));

        var monitors = new List<(string Label, Process Process, StringBuilder Output)>();
        var made = new List<string?>();
        try
        {
            foreach (var (label, netns, chains) in places)
            {
                Nft(netns, $"table inet {table} {{\n{chains}}}\n");
                made.Add(netns);
            }
            foreach (var (label, netns, _) in places)
                monitors.Add(StartMonitor(label, netns));
            foreach (var (label, process, _) in monitors) WaitSubscribed(label, process);
            string outcome = Probe(socket, request, tcp, cancel);
            Thread.Sleep(300); // the last events are still on their way
            var events = new List<TraceEvent>();
            foreach (var (label, process, output) in monitors)
            {
                Stop(process);
                lock (output)
                    events.AddRange(output.ToString().Split('\n').Select(l => TraceEvent.Parse(label, l)).OfType<TraceEvent>()
                        // Our own table's events say nothing, except in a container's namespace, where it is the only
                        // chain: there its "packet" event is the probe leaving or arriving through eth0.
                        .Where(e => !e.Table.StartsWith(TablePrefix, StringComparison.Ordinal) || label != "host" && e.Kind == "packet"));
            }
            return new TraceResult(sport, outcome, events);
        }
        finally
        {
            foreach (var (_, process, _) in monitors) Stop(process);
            foreach (var netns in made)
                new ToolRunner(netns).RunUnchecked("nft", ["delete", "table", "inet", table]);
        }
    }

    private static string Chain(string name, string hook, string rule) =>
        // Before raw (-300), conntrack and DNAT: the rule sees the packet as it was sent.
        $"  chain {name} {{\n    type filter hook {hook} priority -301; policy accept;\n    {rule} meta nftrace set 1\n  }}\n";

    private static void Nft(string? netns, string script)
    {
        var (code, _, error) = new ToolRunner(netns).RunUnchecked("nft", ["-f", "-"], script);
        if (code != 0) throw ToolRunner.Failure("nft", error, script);
    }

    /// <summary>Deletes trace tables left by a trace that was killed (its pid is gone), in the host namespace.</summary>
    public static void SweepStale(string? netns)
    {
        var (code, output, _) = new ToolRunner(netns).RunUnchecked("nft", ["list", "tables"]);
        if (code != 0) return;
        foreach (Match m in Regex.Matches(output, $@"table inet ({TablePrefix}(\d+))"))
            if (!Directory.Exists($"/proc/{m.Groups[2].Value}"))
                new ToolRunner(netns).RunUnchecked("nft", ["delete", "table", "inet", m.Groups[1].Value]);
    }

    private static Socket Open(string? netns, bool tcp)
    {
        Socket Make()
        {
            var s = tcp ? new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp)
                        : new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
            s.Bind(new IPEndPoint(IPAddress.Any, 0));
            return s;
        }
        return netns is null ? Make() : NetNs.Run(netns, Make);
    }

    private static string Probe(Socket socket, TraceRequest request, bool tcp, CancellationToken cancel)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancel);
        timeout.CancelAfter(request.Timeout);
        try
        {
            if (tcp)
            {
                socket.ConnectAsync(request.Destination, timeout.Token).AsTask().GetAwaiter().GetResult();
                return "connected: the destination accepted the connection";
            }
            socket.Connect(request.Destination);
            socket.Send("minidocker trace probe\n"u8);
            var buffer = new byte[512];
            int n = socket.ReceiveAsync(buffer, SocketFlags.None, timeout.Token).AsTask().GetAwaiter().GetResult();
            return $"answered: {n} bytes came back";
        }
        catch (OperationCanceledException)
        {
            return cancel.IsCancellationRequested ? "interrupted" : $"no answer within {request.Timeout.TotalSeconds:0.#} s";
        }
        catch (SocketException e) when (e.SocketErrorCode == SocketError.ConnectionRefused)
        {
            return "refused: nothing listens there (or a REJECT rule answered)";
        }
        catch (SocketException e)
        {
            return $"failed: {e.Message}";
        }
    }

    private static (string, Process, StringBuilder) StartMonitor(string label, string? netns)
    {
        string nft = ToolRunner.Find("nft") ?? throw new NetworkException("nft not found: install nftables for network trace");
        var start = new ProcessStartInfo { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        if (netns is null) start.FileName = nft;
        else
        {
            start.FileName = ToolRunner.Find("nsenter") ?? throw new NetworkException("nsenter not found: is util-linux installed?");
            start.ArgumentList.Add($"--net={netns}");
            start.ArgumentList.Add("--");
            start.ArgumentList.Add(nft);
        }
        start.ArgumentList.Add("monitor");
        start.ArgumentList.Add("trace");
        start.Environment["LC_ALL"] = "C";
        var output = new StringBuilder();
        var process = Process.Start(start) ?? throw new NetworkException("could not start nft monitor trace");
        process.OutputDataReceived += (_, e) => { if (e.Data is not null) lock (output) output.AppendLine(e.Data); };
        process.ErrorDataReceived += (_, _) => { };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return (label, process, output);
    }

    /// <summary>
    /// Waits until the monitor has joined the netlink group of trace events (NFNLGRP_NFTRACE, 9), which nft does a
    /// moment after it starts without saying so: a probe sent before that would go untraced. /proc/PID/net/netlink
    /// lists the sockets of the monitor's namespace with their groups; its own are those of its fds.
    /// </summary>
    private static void WaitSubscribed(string label, Process process)
    {
        const int NetlinkNetfilter = 12;
        const uint TraceGroupBit = 1u << (9 - 1);
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (DateTime.UtcNow < deadline && !process.HasExited)
        {
            try
            {
                var inodes = Directory.GetFiles($"/proc/{process.Id}/fd")
                    .Select(f => new FileInfo(f).LinkTarget ?? "")
                    .Where(t => t.StartsWith("socket:[", StringComparison.Ordinal)).Select(t => t[8..^1]).ToHashSet();
                foreach (var line in File.ReadLines($"/proc/{process.Id}/net/netlink").Skip(1))
                {
                    var f = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
                    if (f.Length >= 10 && f[1] == NetlinkNetfilter.ToString() && inodes.Contains(f[9]) &&
                        (Convert.ToUInt32(f[3], 16) & TraceGroupBit) != 0)
                        return;
                }
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException) { }
            Thread.Sleep(20);
        }
        throw new NetworkException($"nft monitor trace ({label}) did not start listening for trace events");
    }

    private static void Stop(Process process)
    {
        try
        {
            if (!process.HasExited) process.Kill(entireProcessTree: true);
            process.WaitForExit(2000);
        }
        catch (InvalidOperationException) { }
    }

    /// <summary>The path as a learner reads it: each chain's rules in order, DNAT rewrites, and where it stopped.</summary>
    public static string Describe(TraceRequest request, TraceResult result, string? crossing)
    {
        var s = new StringBuilder();
        s.AppendLine($"probe: {request.Protocol} from {request.SourceLabel} (source port {result.SourcePort}) to {request.Destination}");
        string? dropped = null;
        var packets = new Dictionary<string, int>();
        foreach (var e in result.Events)
        {
            // Each packet of the probe (a TCP SYN, then its ACK...) has its own trace id, per namespace.
            if (!packets.ContainsKey(e.Where + " " + e.Id))
            {
                int n = packets.Keys.Count(k => k.StartsWith(e.Where + " ", StringComparison.Ordinal)) + 1;
                packets[e.Where + " " + e.Id] = n;
                var flags = Regex.Match(e.Detail, @"tcp flags == (\S+)");
                s.AppendLine($"-- [{e.Where}] packet {n}{(flags.Success ? $" (tcp flags {flags.Groups[1].Value})" : "")}");
            }
            string chain = $"[{e.Where}] {e.Family} {e.Table} {e.Chain}";
            if (e.Table.StartsWith(TablePrefix, StringComparison.Ordinal))
            {
                var dev = Regex.Match(e.Detail, @"([io])if ""([^""]+)""");
                string how = dev.Success ? (dev.Groups[1].Value == "o" ? $"leaves by {dev.Groups[2].Value}" : $"arrives on {dev.Groups[2].Value}") : "seen";
                s.AppendLine($"[{e.Where}] the probe {how} ({(e.Chain == "out" ? "sent from here" : "received here")})");
                continue;
            }
            if (e.Kind == "packet")
            {
                var iif = Regex.Match(e.Detail, @"iif ""([^""]+)""");
                var oif = Regex.Match(e.Detail, @"oif ""([^""]+)""");
                var daddr = Regex.Match(e.Detail, @"ip daddr (\S+)");
                var dport = Regex.Match(e.Detail, @"(?:tcp|udp) dport (\d+)");
                s.AppendLine($"{chain}: packet{(iif.Success ? $" in {iif.Groups[1].Value}" : "")}{(oif.Success ? $" out {oif.Groups[1].Value}" : "")}" +
                             $"{(daddr.Success ? $" to {daddr.Groups[1].Value}" : "")}{(dport.Success ? $":{dport.Groups[1].Value}" : "")}");
                continue;
            }
            string text = Regex.Replace(e.Detail, @"\s*comment ""[^""]*""", "");
            s.AppendLine($"{chain}:   {e.Kind} {text}");
            var dnat = Regex.Match(text, @"dnat (?:ip )?to (\S+)");
            if (dnat.Success) s.AppendLine($"    => DNAT: destination rewritten to {dnat.Groups[1].Value}");
            if (e.IsDrop && dropped is null) dropped = $"{chain} {e.Kind} {text}";
        }
        if (result.Events.Count == 0) s.AppendLine("(no trace events: the packet never reached a netfilter hook that was traced)");
        if (crossing is not null) s.AppendLine($"crossed: {crossing}");
        s.AppendLine(dropped is null ? $"result: {result.Outcome}" : $"result: DROPPED at {dropped} ({result.Outcome})");
        return TopologyRenderer.Printable(s.ToString());
    }
}
