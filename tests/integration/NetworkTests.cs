using System.Net;
using System.Net.Sockets;
using System.Text.Json;

namespace MiniDocker.IntegrationTests;

/// <summary>Bridge networks, outbound NAT and published ports through the iptables backend (the default).</summary>
public sealed class IptablesNetworkTests() : NetworkTests("iptables");

/// <summary>The same suite through the nftables backend.</summary>
public sealed class NftablesNetworkTests() : NetworkTests("nftables");

/// <summary>Bridge networks, outbound NAT and published ports, end to end through the CLI, once per firewall backend.</summary>
public abstract class NetworkTests(string firewall) : IDisposable
{
    private readonly MiniDocker _md = new(firewall: firewall);
    private readonly string _suffix = Guid.NewGuid().ToString("N")[..6];
    private readonly int _octet = Random.Shared.Next(1, 255);
    private string Net => "net" + _suffix;
    private string Subnet => $"10.231.{_octet}.0/24";
    private string Ip(int host) => $"10.231.{_octet}.{host}";

    // What the host held before this test: other roots (a benchmark, a lab) may have containers of their own.
    private readonly HashSet<string> _vethsBefore = HostVeths().ToHashSet();
    private readonly HashSet<string> _tagsBefore = ContainerTags().ToHashSet();

    public void Dispose()
    {
        _md.Dispose();
        GC.SuppressFinalize(this);
    }

    private Result Md(params string[] args) => _md.Run(args);

    private void CreateNetwork(string name, string subnet)
    {
        var r = Md("network", "create", "--subnet", subnet, name);
        Assert.True(r.ExitCode == 0, r.ToString());
    }

    private string RunDetached(params string[] args)
    {
        var r = Md(["run", "-d", .. args]);
        Assert.True(r.ExitCode == 0, r.ToString());
        return r.Stdout.Trim();
    }

    /// <summary>httpd serving its own hostname, for telling containers apart.</summary>
    private string WebServer(string name, params string[] extra) =>
        RunDetached([.. extra, "--name", name, "busybox", "sh", "-c",
            "mkdir -p /www && hostname > /www/index.html && exec httpd -f -p 80 -h /www"]);

    private static string[] HostVeths() =>
        Sh.Run("ip", "-o", "link", "show", "type", "veth").Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Select(l => l.Split(':')[1].Trim().Split('@')[0]).Where(n => n.StartsWith("mdk")).ToArray();

    private static string FirewallRules() =>
        Sh.Try("iptables-save").Out + Sh.Try("nft", "list", "table", "ip", "minidocker").Out;

    /// <summary>The short ids of containers with rules on the host (any state root: a tag reads
    /// minidocker:ctr:[SCOPE:]ID12).</summary>
    private static IEnumerable<string> ContainerTags() =>
        System.Text.RegularExpressions.Regex.Matches(FirewallRules(), "minidocker:ctr:(?:[0-9a-f]{8}:)?([0-9a-f]{12})")
            .Select(m => m.Groups[1].Value).Distinct();

    private string[] NewVeths() => HostVeths().Where(v => !_vethsBefore.Contains(v)).ToArray();

    /// <summary>A container's veth pair goes with its network namespace, which the kernel destroys in the
    /// background once the last process is gone: give it the moment it takes.</summary>
    private string[] NewVethsSettled(int expected = 0)
    {
        var deadline = DateTime.UtcNow.AddSeconds(5);
        string[] left;
        while ((left = NewVeths()).Length > expected && DateTime.UtcNow < deadline) Thread.Sleep(20);
        return left;
    }

    /// <summary>What the host holds for this state root's containers: veths, addresses, endpoints, rules.</summary>
    private void AssertNothingLeftFor(string net, bool containerKept = false)
    {
        Assert.Empty(NewVethsSettled());
        string ipam = Path.Combine(_md.Root, "networks", "ipam", net + ".json");
        if (File.Exists(ipam)) Assert.DoesNotContain("\"10.", File.ReadAllText(ipam).Split("Allocations")[1]);
        string endpoints = Path.Combine(_md.Root, "networks", "endpoints", net);
        Assert.True(!Directory.Exists(endpoints) || Directory.GetFiles(endpoints).Length == 0);
        Assert.Equal([], ContainerTags().Except(_tagsBefore));
        if (!containerKept) Assert.Empty(_md.ContainerDirs());
    }

    [Fact]
    public void Network_create_list_inspect_remove()
    {
        CreateNetwork(Net, Subnet);
        var ls = Md("network", "ls").Stdout;
        Assert.Matches($@"{Net}\s+bridge\s+10\.231\.{_octet}\.0/24\s+10\.231\.{_octet}\.1\s+mdk-[0-9a-f]{{8}}\s+0", ls);
        Assert.Contains("bridge ", Md("network", "list").Stdout);

        string id = RunDetached("--name", "sleeper", "--net", Net, "busybox", "sleep", "60");
        var inspect = JsonDocument.Parse(Md("network", "inspect", Net).Stdout).RootElement[0];
        Assert.Equal(Subnet, inspect.GetProperty("Subnet").GetString());
        var endpoint = inspect.GetProperty("Containers").GetProperty(id);
        Assert.Equal("sleeper", endpoint.GetProperty("Name").GetString());
        Assert.Equal(Ip(2) + "/24", endpoint.GetProperty("IPv4Address").GetString());
        Assert.Equal($"02:42:0a:e7:{_octet:x2}:02", endpoint.GetProperty("MacAddress").GetString());
        Assert.StartsWith("mdk", endpoint.GetProperty("HostVeth").GetString());

        var refused = Md("network", "rm", Net);
        Assert.NotEqual(0, refused.ExitCode);
        Assert.Contains("still attached", refused.Stderr);

        Assert.Equal(0, Md("rm", "-f", "sleeper").ExitCode);
        Assert.Equal(0, Md("network", "rm", Net).ExitCode);
        Assert.DoesNotContain(Net, FirewallRules());
        Assert.DoesNotContain(Net, Md("network", "ls").Stdout);
        Assert.DoesNotContain($"10.231.{_octet}.", Sh.Run("ip", "-o", "addr"));
    }

    [Fact]
    public void A_root_without_networks_leaves_no_rules_behind()
    {
        // The chains are shared by every state root on the host: only when no root has rules may they go.
        bool othersUseThem = FirewallRules().Contains("minidocker:base");
        Assert.Equal(0, Md("system", "prune", "-f").ExitCode);
        Assert.Equal(0, Md("network", "reconcile").ExitCode);
        CreateNetwork(Net, Subnet);
        Assert.Equal(0, Md("network", "rm", Net).ExitCode);
        if (!othersUseThem) Assert.DoesNotContain("minidocker", FirewallRules(), StringComparison.OrdinalIgnoreCase);
        else Assert.DoesNotContain(Net, FirewallRules());
    }

    [Fact]
    public void A_root_keeps_the_firewall_backend_it_started_with()
    {
        CreateNetwork(Net, Subnet); // this root now uses the class's backend, recorded in ROOT/config
        string other = firewall == "iptables" ? "nftables" : "iptables";

        var refused = Md("--firewall", other, "run", "-d", "--net", Net, "-p", "80", "busybox", "sleep", "60");
        Assert.Equal(125, refused.ExitCode);
        Assert.Contains($"firewall backend {other} requested, but state root", refused.Stderr);
        Assert.Contains($"uses {firewall}", refused.Stderr);
        Assert.Single(refused.Stderr.Trim().Split('\n'));
        Assert.Empty(Md("ps", "-aq").Stdout.Trim());

        var unknown = Md("--firewall", "ipfw", "network", "ls");
        Assert.Equal(125, unknown.ExitCode);
        Assert.Contains("unknown firewall backend 'ipfw': use iptables or nftables", unknown.Stderr);
        Assert.Equal(0, Md("--firewall", firewall, "network", "ls").ExitCode);
    }

    [Theory]
    [InlineData("10.231.0.0/33", "invalid")]
    [InlineData("not-a-cidr", "invalid")]
    public void Invalid_subnet_is_refused(string subnet, string expected)
    {
        var r = Md("network", "create", "--subnet", subnet, Net);
        Assert.Equal(125, r.ExitCode);
        Assert.Contains(expected, r.Stderr, StringComparison.OrdinalIgnoreCase);
        Assert.Single(r.Stderr.TrimEnd().Split('\n'));
        Assert.Empty(_md.Networks());
    }

    [Fact]
    public void Bad_network_input_is_refused_with_a_clear_error_and_creates_nothing()
    {
        Assert.Contains("gateway", Md("network", "create", "--subnet", Subnet, "--gateway", "10.99.0.1", Net).Stderr);
        Assert.Contains("name", Md("network", "create", "--subnet", Subnet, "bad/name").Stderr);
        Assert.Contains("bridge name", Md("network", "create", "--subnet", Subnet, "-o", "bridge-name=waytoolongforifnamsiz", Net).Stderr);
        Assert.Contains("eth0", Md("network", "create", "--subnet", Subnet, "-o", "bridge-name=eth0", Net).Stderr);
        Assert.Contains("overlap", Md("network", "create", "--subnet", "192.0.2.0/25", Net).Stderr, StringComparison.OrdinalIgnoreCase);
        Assert.Empty(_md.Networks());
        Assert.DoesNotContain("eth0", Sh.Run("ip", "-o", "link", "show", "type", "bridge"));

        CreateNetwork(Net, Subnet);
        var overlap = Md("network", "create", "--subnet", $"10.231.{_octet}.128/25", "other" + _suffix);
        Assert.Equal(125, overlap.ExitCode);
        Assert.Contains("overlap", overlap.Stderr, StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public void Run_with_bad_network_input_fails_before_starting_and_leaves_nothing()
    {
        CreateNetwork(Net, Subnet);
        var unknown = Md("run", "--rm", "--net", "nosuchnet", "busybox", "true");
        Assert.Equal(125, unknown.ExitCode);
        Assert.Contains("nosuchnet", unknown.Stderr);

        var outside = Md("run", "--rm", "--net", Net, "--ip", "10.99.0.5", "busybox", "true");
        Assert.Equal(125, outside.ExitCode);
        Assert.Contains("10.99.0.5", outside.Stderr);

        RunDetached("--net", Net, "--ip", Ip(50), "busybox", "sleep", "60");
        var taken = Md("run", "--rm", "--net", Net, "--ip", Ip(50), "busybox", "true");
        Assert.Equal(125, taken.ExitCode);
        Assert.Contains("already in use", taken.Stderr);

        var badPort = Md("run", "--rm", "--net", Net, "-p", "70000:80", "busybox", "true");
        Assert.Equal(125, badPort.ExitCode);
        Assert.Contains("70000", badPort.Stderr);
        Assert.Single(_md.ContainerDirs());
    }

    [Fact]
    public void Container_gets_eth0_address_mac_route_and_hosts_entry()
    {
        CreateNetwork(Net, Subnet);
        var r = Md("run", "--rm", "-h", "box", "--net", Net, "--ip", Ip(9), "busybox", "sh", "-c",
            "ip -o -4 addr show eth0 | awk '{print $4}'; cat /sys/class/net/eth0/address; ip route | head -1; grep box /etc/hosts; ip -o link | wc -l");
        Assert.Equal($"{Ip(9)}/24\n02:42:0a:e7:{_octet:x2}:09\ndefault via {Ip(1)} dev eth0 \n{Ip(9)}\tbox\n2\n", r.Stdout);
        AssertNothingLeftFor(Net);
    }

    [Fact]
    public void Net_none_has_only_loopback_and_host_shares_the_hosts_network()
    {
        Assert.Equal("lo UP\n", Md("run", "--rm", "--net", "none", "busybox", "sh", "-c",
            "ip -o link | awk -F': ' '{print $2}' | while read n rest; do echo $n $(cat /sys/class/net/$n/operstate | tr a-z A-Z | sed s/UNKNOWN/UP/); done").Stdout);
        Assert.Contains("eth0", Md("run", "--rm", "--net", "host", "busybox", "ip", "-o", "link").Stdout);
    }

    [Fact]
    public void Default_network_is_used_without_a_flag()
    {
        var r = Md("run", "--rm", "busybox", "ip", "-o", "-4", "addr", "show", "eth0");
        Assert.Equal(0, r.ExitCode);
        Assert.Matches(@"inet 172\.\d+\.0\.2/16", r.Stdout);
        Assert.Contains("bridge", Md("network", "ls").Stdout);
    }

    [Fact]
    public void Containers_on_one_network_reach_each_other_and_other_networks_cannot()
    {
        CreateNetwork(Net, Subnet);
        string other = "other" + _suffix;
        CreateNetwork(other, $"10.232.{_octet}.0/24");
        WebServer("web", "--net", Net, "--ip", Ip(10));

        var same = Md("run", "--rm", "--net", Net, "busybox", "sh", "-c",
            $"ping -c1 -W2 {Ip(10)} >/dev/null && echo ping-ok; for i in 1 2 3 4 5 6 7 8 9 10; do timeout 3 wget -qO- http://{Ip(10)}/ && break; sleep 0.2; done");
        Assert.Equal("ping-ok\nweb\n".Replace("web\n", ""), same.Stdout.Split('\n')[0] + "\n");
        Assert.Matches("^ping-ok\n[0-9a-f]{12}\n$", same.Stdout);

        var isolated = Md("run", "--rm", "--net", other, "busybox", "sh", "-c",
            $"ping -c1 -W1 {Ip(10)} >/dev/null && echo reached || echo isolated; timeout 2 wget -qO- http://{Ip(10)}/ || echo no-http");
        Assert.Equal("isolated\nno-http\n", isolated.Stdout);
    }

    [Fact]
    public void Outbound_traffic_is_masqueraded_behind_the_hosts_address()
    {
        using var wan = new WanNamespace();
        wan.ServeRemoteAddr(8000);
        CreateNetwork(Net, Subnet);
        var r = Md("run", "--rm", "--net", Net, "busybox", "timeout", "5", "wget", "-qO-", $"http://{wan.WanAddress}:8000/cgi-bin/ip");
        Assert.Equal(wan.HostAddress + "\n", r.Stdout); // not the container's 10.231.x.2
    }

    [Fact]
    public void Published_port_answers_on_loopback_host_address_outside_and_hairpin()
    {
        using var wan = new WanNamespace();
        CreateNetwork(Net, Subnet);
        int port = HostPorts.Free();
        string id = WebServer("pub", "--net", Net, "-p", $"{port}:80");
        string hostname = id[..12] + "\n";

        Assert.Equal(hostname, HostPorts.Fetch($"http://127.0.0.1:{port}/"));
        Assert.Equal(hostname, HostPorts.Fetch($"http://{wan.HostAddress}:{port}/"));
        Assert.Equal(hostname, wan.Exec("busybox", "timeout", "5", "wget", "-qO-", $"http://{wan.HostAddress}:{port}/"));
        var hairpin = Md("run", "--rm", "--net", Net, "busybox", "timeout", "5", "wget", "-qO-", $"http://{wan.HostAddress}:{port}/");
        Assert.Equal(hostname, hairpin.Stdout);
        var self = Md("exec", "pub", "timeout", "5", "wget", "-qO-", $"http://{wan.HostAddress}:{port}/");
        if (self.ExitCode == 0) Assert.Equal(hostname, self.Stdout); // exec arrives with the lifecycle verbs

        Assert.Equal($"80/tcp -> 0.0.0.0:{port}\n", Md("port", "pub").Stdout);
        // ps shows the mapping as Docker does, while the container holds it.
        Assert.Contains($"0.0.0.0:{port}->80/tcp", Md("ps").Stdout.Split('\n').Single(l => l.TrimEnd().EndsWith(" pub")));
        var json = Md("ps", "--format", "json").Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Select(l => JsonDocument.Parse(l).RootElement).Single(r => r.GetProperty("Names").GetString() == "pub");
        Assert.Equal($"0.0.0.0:{port}->80/tcp", json.GetProperty("Ports").GetString());
        Assert.Equal(0, Md("stop", "-t", "1", "pub").ExitCode);
        Assert.DoesNotContain("->", Md("ps", "-a").Stdout.Split('\n').Single(l => l.TrimEnd().EndsWith(" pub")));
    }

    [Fact]
    public void Udp_ranges_and_host_ip_forms_are_published()
    {
        using var wan = new WanNamespace();
        TestImages.BusyboxWith(_md, "udpbox", "udp-echo.c");
        CreateNetwork(Net, Subnet);
        int udp = HostPorts.Free(), first = HostPorts.Free();
        RunDetached("--name", "udp", "--net", Net, "-p", $"{udp}:7/udp", "udpbox", "udp-echo", "7");
        Assert.Equal("echo:ping", UdpAsk("127.0.0.1", udp, "ping"));
        Assert.Equal("echo:pong", UdpAsk(wan.HostAddress, udp, "pong"));

        // A range of two host ports onto two container ports, and a mapping bound to one host address only.
        int range = HostPorts.Free();
        while (!PortFree(range + 1)) range = HostPorts.Free();
        RunDetached("--name", "multi", "--net", Net, "-p", $"{range}-{range + 1}:80-81", "-p", $"127.0.0.1:{first}:80",
            "busybox", "sh", "-c", "mkdir /a /b; echo a > /a/index.html; echo b > /b/index.html; httpd -p 80 -h /a; exec httpd -f -p 81 -h /b");
        Assert.Equal("a\n", HostPorts.Fetch($"http://127.0.0.1:{range}/"));
        Assert.Equal("b\n", HostPorts.Fetch($"http://127.0.0.1:{range + 1}/"));
        Assert.Equal("a\n", HostPorts.Fetch($"http://127.0.0.1:{first}/"));
        // Bound to 127.0.0.1 only: the host's other address does not answer on that port.
        Assert.NotEqual(0, wan.TryExec("busybox", "timeout", "3", "wget", "-qO-", $"http://{wan.HostAddress}:{first}/").Code);
        var ports = Md("port", "multi").Stdout;
        Assert.Contains($"80/tcp -> 0.0.0.0:{range}", ports);
        Assert.Contains($"81/tcp -> 0.0.0.0:{range + 1}", ports);
        Assert.Contains($"80/tcp -> 127.0.0.1:{first}", ports);
    }

    [Fact]
    public void Container_port_alone_gets_a_free_host_port()
    {
        CreateNetwork(Net, Subnet);
        WebServer("auto", "--net", Net, "-p", "80");
        var line = Md("port", "auto").Stdout.Trim();
        Assert.Matches(@"^80/tcp -> 0\.0\.0\.0:\d+$", line);
        int port = int.Parse(line.Split(':')[1]);
        Assert.Matches("^[0-9a-f]{12}\n$", HostPorts.Fetch($"http://127.0.0.1:{port}/"));
    }

    [Fact]
    public void Publish_all_maps_the_images_exposed_ports()
    {
        var import = Md("image", "import", "-c", "EXPOSE 80 81/udp", MiniDocker.BusyboxTar, "exposing");
        Assert.Equal(0, import.ExitCode);
        CreateNetwork(Net, Subnet);
        int fixedPort = HostPorts.Free();
        RunDetached("--name", "all", "--net", Net, "-P", "-p", $"{fixedPort}:81/udp", "exposing", "sleep", "60");
        var lines = Md("port", "all").Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(2, lines.Length);
        Assert.Contains($"81/udp -> 0.0.0.0:{fixedPort}", lines);
        Assert.Single(lines, l => System.Text.RegularExpressions.Regex.IsMatch(l, @"^80/tcp -> 0\.0\.0\.0:\d+$"));
    }

    private static bool PortFree(int port)
    {
        try { var l = new TcpListener(IPAddress.Any, port); l.Start(); l.Stop(); return true; }
        catch (SocketException) { return false; }
    }

    private static string UdpAsk(string host, int port, string text)
    {
        using var client = new UdpClient();
        client.Client.ReceiveTimeout = 1000;
        for (int i = 0; ; i++)
        {
            client.Send(System.Text.Encoding.ASCII.GetBytes(text), IPEndPoint.Parse($"{host}:{port}"));
            try
            {
                var from = new IPEndPoint(IPAddress.Any, 0);
                return System.Text.Encoding.ASCII.GetString(client.Receive(ref from));
            }
            catch (SocketException) when (i < 20) { /* the responder may not be listening yet */ }
        }
    }

    [Fact]
    public void Port_already_published_or_bound_on_the_host_is_refused_and_nothing_is_left()
    {
        CreateNetwork(Net, Subnet);
        int port = HostPorts.Free();
        WebServer("first", "--net", Net, "-p", $"{port}:80");
        var second = Md("run", "-d", "--net", Net, "-p", $"{port}:80", "busybox", "true");
        Assert.Equal(125, second.ExitCode);
        Assert.Equal($"minidocker: port {port}/tcp is already allocated\n", second.Stderr);
        Assert.Single(_md.ContainerDirs());

        var listener = new TcpListener(IPAddress.Any, HostPorts.Free());
        listener.Start();
        try
        {
            int busy = ((IPEndPoint)listener.LocalEndpoint).Port;
            var r = Md("run", "--rm", "--net", Net, "-p", $"{busy}:80", "busybox", "true");
            Assert.Equal(125, r.ExitCode);
            Assert.Contains($"port {busy}/tcp is already allocated", r.Stderr);
        }
        finally { listener.Stop(); }
        Assert.Single(NewVethsSettled(1));
        Md("rm", "-f", "first");
        AssertNothingLeftFor(Net);
    }

    [Theory]
    [InlineData("ipam")]
    [InlineData("veth")]
    [InlineData("container-link")]
    [InlineData("route")]
    [InlineData("ports")]
    public void A_failure_at_any_setup_step_undoes_the_steps_before_it(string step)
    {
        CreateNetwork(Net, Subnet);
        var r = RunWithFailPoint(step, "run", "--net", Net, "-p", $"{HostPorts.Free()}:80", "busybox", "true");
        Assert.Equal(125, r.ExitCode);
        Assert.Contains($"injected failure at step '{step}'", r.Stderr);
        AssertNothingLeftFor(Net);
    }

    private Result RunWithFailPoint(string step, params string[] args)
    {
        Environment.SetEnvironmentVariable("MINIDOCKER_FAILPOINT", step);
        try { return Md(args); }
        finally { Environment.SetEnvironmentVariable("MINIDOCKER_FAILPOINT", null); }
    }

    [Fact]
    public void Rm_and_auto_remove_release_address_veth_and_rules()
    {
        CreateNetwork(Net, Subnet);
        Md("run", "--rm", "--net", Net, "-p", $"{HostPorts.Free()}:80", "busybox", "true");
        AssertNothingLeftFor(Net);
        int keptPort = HostPorts.Free();
        string kept = WebServer("kept", "--net", Net, "-p", $"{keptPort}:80");
        WebServer("w", "--net", Net, "-p", $"{HostPorts.Free()}:80");
        Assert.Equal(2, ContainerTags().Count(t => !_tagsBefore.Contains(t)));
        Assert.Equal(2, NewVeths().Length);
        Md("rm", "-f", "w");
        // Exactly w's rules went: the other container still answers.
        Assert.Equal([kept[..12]], ContainerTags().Except(_tagsBefore));
        Assert.Equal(kept[..12] + "\n", HostPorts.Fetch($"http://127.0.0.1:{keptPort}/"));
        Md("rm", "-f", "kept");
        AssertNothingLeftFor(Net);
    }

    [Fact]
    public void Reconcile_sweeps_what_a_vanished_container_left()
    {
        CreateNetwork(Net, Subnet);
        string id = WebServer("doomed", "--net", Net, "-p", $"{HostPorts.Free()}:80");
        // As after a crash of everything (kill -9 of monitor and program, state directory lost): the records and
        // rules remain, the container does not.
        string dir = _md.ContainerDirs().Single();
        var state = JsonDocument.Parse(File.ReadAllText(Path.Combine(dir, "state.json"))).RootElement;
        foreach (var key in new[] { "monitorPid", "pid" })
            Sh.Try("kill", "-9", state.GetProperty(key).GetInt32().ToString());
        Directory.Delete(dir, recursive: true);
        Assert.Contains(id[..12], ContainerTags());

        Assert.Equal(0, Md("network", "reconcile").ExitCode);
        AssertNothingLeftFor(Net);
    }

    [Fact]
    public void Stop_releases_the_attachment_and_start_recreates_it()
    {
        CreateNetwork(Net, Subnet);
        int port = HostPorts.Free();
        string id = WebServer("cycle", "--net", Net, "-p", $"{port}:80");
        Assert.Equal(id[..12] + "\n", HostPorts.Fetch($"http://127.0.0.1:{port}/"));

        Assert.Equal(0, Md("stop", "-t", "1", "cycle").ExitCode);
        AssertNothingLeftFor(Net, containerKept: true);

        Assert.Equal(0, Md("start", "cycle").ExitCode);
        Assert.Equal(id[..12] + "\n", HostPorts.Fetch($"http://127.0.0.1:{port}/"));
        Assert.Equal($"80/tcp -> 0.0.0.0:{port}\n", Md("port", "cycle").Stdout);
        Assert.Single(NewVethsSettled(1));
    }

    [Fact]
    public void Publishing_runs_racing_reconciles_leave_no_rule_behind()
    {
        CreateNetwork(Net, Subnet);
        var runs = Enumerable.Range(0, 12).Select(_ => HostPorts.Free()).Distinct().ToList();
        var work = runs.Select(port => (Func<Result>)(() => Md("run", "--rm", "--net", Net, "-p", $"{port}:80", "busybox", "true")))
            .Concat(Enumerable.Range(0, 3).Select(_ => (Func<Result>)(() => Md("network", "reconcile"))))
            .ToList();
        var results = work.AsParallel().WithDegreeOfParallelism(8).Select(w => w()).ToList();
        Assert.All(results, r => Assert.Equal(0, r.ExitCode));
        AssertNothingLeftFor(Net);
    }

    [Fact]
    public void Fifty_parallel_runs_get_fifty_distinct_addresses()
    {
        CreateNetwork(Net, Subnet);
        var results = Enumerable.Range(0, 50).AsParallel().WithDegreeOfParallelism(16)
            .Select(_ => Md("run", "--rm", "--net", Net, "busybox", "sh", "-c", "ip -o -4 addr show eth0 | awk '{print $4}'"))
            .ToList();
        Assert.All(results, r => Assert.Equal(0, r.ExitCode));
        var addresses = results.Select(r => r.Stdout.Trim()).ToList();
        Assert.Equal(50, addresses.Distinct().Count());
        Assert.All(addresses, a => Assert.StartsWith($"10.231.{_octet}.", a));
        AssertNothingLeftFor(Net);
    }

    [Fact]
    public void Flushed_rules_are_restored_by_network_reconcile()
    {
        CreateNetwork(Net, Subnet);
        int port = HostPorts.Free();
        WebServer("web", "--net", Net, "-p", $"{port}:80");
        if (firewall == "iptables") Assert.Equal(0, Sh.Try("iptables", "-t", "nat", "-F", "MINIDOCKER").Code);
        else Assert.Equal(0, Sh.Try("nft", "flush", "chain", "ip", "minidocker", "MINIDOCKER").Code);
        Assert.Throws<AggregateException>(() => new HttpClient { Timeout = TimeSpan.FromSeconds(1) }.GetStringAsync($"http://127.0.0.1:{port}/").Result);
        Assert.Equal(0, Md("network", "reconcile").ExitCode);
        Assert.Matches("^[0-9a-f]{12}\n$", HostPorts.Fetch($"http://127.0.0.1:{port}/"));
    }

    [Fact]
    public void Flushed_rules_are_restored_by_the_next_run_that_publishes()
    {
        CreateNetwork(Net, Subnet);
        int port = HostPorts.Free();
        WebServer("web", "--net", Net, "-p", $"{port}:80");
        // What `iptables -t nat -F` does to our part, done to our rules only: the jump from PREROUTING and the
        // DNAT chain's rules are gone.
        if (firewall == "iptables")
        {
            Assert.Equal(0, Sh.Try("iptables", "-t", "nat", "-D", "PREROUTING", "!", "-d", "127.0.0.0/8", "-m", "addrtype", "--dst-type", "LOCAL",
                "-m", "comment", "--comment", "minidocker:base", "-j", "MINIDOCKER").Code);
            Assert.Equal(0, Sh.Try("iptables", "-t", "nat", "-F", "MINIDOCKER").Code);
        }
        else Assert.Equal(0, Sh.Try("nft", "flush", "table", "ip", "minidocker").Code);
        Assert.Equal(0, Md("run", "--rm", "--net", Net, "-p", $"{HostPorts.Free()}:80", "busybox", "true").ExitCode);
        Assert.Matches("^[0-9a-f]{12}\n$", HostPorts.Fetch($"http://127.0.0.1:{port}/"));
    }
}
