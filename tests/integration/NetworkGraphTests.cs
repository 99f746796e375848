using System.Text.Json;
using System.Text.RegularExpressions;

namespace MiniDocker.IntegrationTests;

/// <summary>`network inspect --graph`, `network trace` and `doctor` against a real network with two containers.</summary>
public sealed partial class NetworkGraphTests : IDisposable
{
    private readonly MiniDocker _md = new();
    private readonly string _net = "gr" + Guid.NewGuid().ToString("N")[..6];
    private readonly int _octet = Random.Shared.Next(1, 255);
    private readonly int _port = HostPorts.Free();
    private string Ip(int host) => $"10.233.{_octet}.{host}";

    public void Dispose() => _md.Dispose();

    private Result Md(params string[] args) => _md.Run(args);

    private Result Ok(params string[] args)
    {
        var r = Md(args);
        Assert.True(r.ExitCode == 0, $"{string.Join(' ', args)}: {r}");
        return r;
    }

    /// <summary>web (publishing _port -> 80) and cli on one network; returns each one's host veth and pid.</summary>
    private (string WebVeth, string CliVeth, string CliPid) TwoContainers()
    {
        Ok("network", "create", "--subnet", $"10.233.{_octet}.0/24", _net);
        Ok("run", "-d", "--name", "web", "--net", _net, "--ip", Ip(2), "-p", $"{_port}:80", "busybox", "sh", "-c",
            "echo graph > /index.html; exec httpd -f -p 80 -h /");
        Ok("run", "-d", "--name", "cli", "--net", _net, "--ip", Ip(3), "busybox", "sleep", "600");
        Assert.Equal("graph\n", HostPorts.Fetch($"http://127.0.0.1:{_port}/"));
        var inspect = JsonDocument.Parse(Ok("network", "inspect", _net).Stdout).RootElement[0].GetProperty("Containers");
        string Veth(string name) => inspect.EnumerateObject().Select(c => c.Value).First(c => c.GetProperty("Name").GetString() == name).GetProperty("HostVeth").GetString()!;
        return (Veth("web"), Veth("cli"), Ok("inspect", "-f", "{{.State.Pid}}", "cli").Stdout.Trim());
    }

    private string Graph() => Ok("network", "inspect", _net, "--graph").Stdout;

    private long DnatPackets(string graph)
    {
        var m = Regex.Match(graph, $@"DNAT \[(\d+) pkts \d+ bytes\] nat/MINIDOCKER: .*--dport {_port} -j DNAT --to-destination {Regex.Escape(Ip(2))}:80");
        Assert.True(m.Success, "no DNAT line with a counter in:\n" + graph);
        return long.Parse(m.Groups[1].Value);
    }

    [Fact]
    public void Graph_is_read_from_the_kernel_and_shows_what_is_broken()
    {
        var (webVeth, cliVeth, cliPid) = TwoContainers();
        string graph = Graph();
        Assert.Contains($"eth0: {Ip(2)}/24", graph);
        Assert.Contains($"eth0: {Ip(3)}/24", graph);
        Assert.Contains($"{webVeth} [up] <==veth==> eth0 [up]", graph);
        Assert.Contains($"{cliVeth} [up] <==veth==> eth0 [up]", graph);
        Assert.Contains($"route default via {Ip(1)} dev eth0", graph);
        Assert.Contains($"10.233.{_octet}.1/24  [up]", graph);
        Assert.Contains("MASQUERADE", graph);
        Assert.DoesNotContain("!!", graph);

        // The DNAT rule's counter is the kernel's: one more connection, one more packet.
        long before = DnatPackets(graph);
        Assert.Equal("graph\n", HostPorts.Fetch($"http://127.0.0.1:{_port}/"));
        Assert.True(DnatPackets(Graph()) > before, "the DNAT counter did not rise after a connection");

        // Broken on purpose, one thing at a time: each is drawn as broken.
        Sh.Run("ip", "link", "set", cliVeth, "down");
        graph = Graph();
        Assert.Contains($"{cliVeth} [!! DOWN]", graph);
        Assert.Contains($"!! host veth {cliVeth} is DOWN", graph);
        Sh.Run("ip", "link", "set", cliVeth, "up");

        Sh.Run("nsenter", $"--net=/proc/{cliPid}/ns/net", "ip", "addr", "del", $"{Ip(3)}/24", "dev", "eth0");
        graph = Graph();
        Assert.Contains($"!! state says {Ip(3)}/24 on eth0, the kernel has none", graph);

        string dnat = Sh.Run("iptables-save", "-t", "nat").Split('\n')
            .First(l => l.StartsWith("-A MINIDOCKER ", StringComparison.Ordinal) && l.Contains($"--to-destination {Ip(2)}:80"));
        Sh.Run("sh", "-c", "iptables -t nat " + dnat.Replace("-A MINIDOCKER", "-D MINIDOCKER"));
        graph = Graph();
        Assert.Contains($"!! port 0.0.0.0:{_port}->80/tcp: no DNAT rule to {Ip(2)}:80", graph);
        Ok("network", "reconcile");
        Assert.DoesNotContain("no DNAT rule", Graph());
    }

    [Fact]
    public void Dot_output_is_valid_graphviz_and_svg_renders()
    {
        TwoContainers();
        string dot = Ok("network", "inspect", _net, "--graph", "--format", "dot").Stdout;
        Assert.StartsWith("digraph", dot);
        Assert.Contains(Ip(2), dot);
        string path = Path.Combine(_md.Root, "graph.dot");
        File.WriteAllText(path, dot);
        var (code, svg, err) = Sh.Try("dot", "-Tsvg", path);
        Assert.True(code == 0, "dot rejected the output: " + err + "\n" + dot);
        Assert.Contains("<svg", svg);
        Assert.Contains("<svg", Ok("network", "inspect", _net, "--graph", "--format", "svg").Stdout);
    }

    [Fact]
    public void Trace_to_a_published_port_shows_the_dnat_and_the_accept_and_a_drop_where_a_rule_drops()
    {
        TwoContainers();
        string trace = Ok("network", "trace", "--to", $"127.0.0.1:{_port}").Stdout;
        Assert.Contains($"dnat to {Ip(2)}:80", trace);
        Assert.Contains($"=> DNAT: destination rewritten to {Ip(2)}:80", trace);
        Assert.Matches("(verdict|policy) accept", trace);
        Assert.Contains("result: connected", trace);
        Assert.Contains($"==veth==> eth0 {Ip(2)} in web", trace);

        // From a container to the other's address: out of cli's namespace, across the bridge, into web.
        trace = Ok("network", "trace", "cli", "--to", $"{Ip(2)}:80").Stdout;
        Assert.Contains("[cli]", trace);
        Assert.Contains("[web]", trace);
        Assert.Contains("result: connected", trace);

        // A rule of this test's own (its chain and one jump rule, removed in finally) drops the published traffic.
        string chain = "MDKTRDROP-" + _net[2..];
        try
        {
            Sh.Run("iptables", "-N", chain);
            Sh.Run("iptables", "-A", chain, "-d", $"{Ip(2)}/32", "-p", "tcp", "--dport", "80", "-j", "DROP");
            Sh.Run("iptables", "-I", "OUTPUT", "-d", $"{Ip(2)}/32", "-j", chain);
            trace = Ok("network", "trace", "--to", $"127.0.0.1:{_port}", "--timeout", "1").Stdout;
            Assert.Contains($"result: DROPPED at [host] ip filter {chain}", trace);
            Assert.Contains("(verdict drop)", trace);
        }
        finally
        {
            Sh.Try("iptables", "-D", "OUTPUT", "-d", $"{Ip(2)}/32", "-j", chain);
            Sh.Try("iptables", "-F", chain);
            Sh.Try("iptables", "-X", chain);
        }
        Assert.DoesNotContain("minidocker_trace_", Sh.Run("nft", "list", "tables"));
    }

    [Fact]
    public void Trace_refuses_probes_that_would_leave_the_machine()
    {
        // Not a container address of this root, not loopback: the machine's uplink, a documentation address.
        foreach (var to in new[] { "192.0.2.77:80", "8.8.8.8:53" })
        {
            var r = Md("network", "trace", "--to", to);
            Assert.Equal(125, r.ExitCode);
            Assert.Contains("trace probes stay on this machine", r.Stderr);
        }
        Assert.DoesNotContain("minidocker_trace_", Sh.Run("nft", "list", "tables"));
    }

    [Fact]
    public void Doctor_reports_ip_forward_off_in_a_namespace_and_ok_when_on()
    {
        string ns = "mdkdoc-" + Guid.NewGuid().ToString("N")[..6];
        Sh.Run("ip", "netns", "add", ns);
        try
        {
            // ip_forward is per network namespace: the host's stays as it is.
            Sh.Run("ip", "netns", "exec", ns, "sysctl", "-qw", "net.ipv4.ip_forward=0");
            var r = Md("doctor", "--netns", $"/run/netns/{ns}");
            Assert.True(r.ExitCode == 0, r.ToString()); // a WARN is not a failure
            Assert.Contains("WARN ip_forward: net.ipv4.ip_forward=0", r.Stdout);
            Assert.Contains("-> minidocker turns it on", r.Stdout);
            Sh.Run("ip", "netns", "exec", ns, "sysctl", "-qw", "net.ipv4.ip_forward=1");
            Assert.Contains("OK   ip_forward: net.ipv4.ip_forward=1", Md("doctor", "--netns", $"/run/netns/{ns}").Stdout);
            // rp_filter strict in that namespace: a WARN with what to do.
            Sh.Run("ip", "netns", "exec", ns, "sysctl", "-qw", "net.ipv4.conf.all.rp_filter=1");
            Assert.Contains("WARN rp_filter", Md("doctor", "--netns", $"/run/netns/{ns}").Stdout);
        }
        finally
        {
            Sh.Try("ip", "netns", "del", ns);
        }
        var missing = Md("doctor", "--netns", "/run/netns/" + ns);
        Assert.Equal(125, missing.ExitCode);
    }
}
