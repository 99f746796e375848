using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace MiniDocker.IntegrationTests;

/// <summary>
/// The network defects of issue 9, end to end through the CLI: what a step undoes, the port race, the default
/// network's life, `system reset`, the orphan sweep, a `network rm` killed at each step, the bridge's MAC, Docker's
/// refusals and a full disk during `network create`.
/// </summary>
public sealed class NetworkFoundationTests : IDisposable
{
    private readonly MiniDocker _md = new();
    private readonly string _suffix = Guid.NewGuid().ToString("N")[..6];
    private readonly int _octet = Random.Shared.Next(1, 255);
    private readonly List<string> _links = new();
    private readonly HashSet<string> _vethsBefore = HostVeths().ToHashSet();

    private string Net => "fnet" + _suffix;
    private string Subnet => $"10.233.{_octet}.0/24";

    public void Dispose()
    {
        foreach (var link in _links) Sh.Try("ip", "link", "del", link);
        _md.Dispose();
    }

    private Result Md(params string[] args) => _md.Run(args);

    private void CreateNetwork(string name, string subnet, params string[] extra)
    {
        var r = Md(["network", "create", "--subnet", subnet, .. extra, name]);
        Assert.True(r.ExitCode == 0, r.ToString());
    }

    private string BridgeOf(string network) =>
        JsonDocument.Parse(Md("network", "inspect", network).Stdout).RootElement[0].GetProperty("Bridge").GetString()!;

    private static bool LinkExists(string name) => Sh.Try("ip", "link", "show", "dev", name).Code == 0;

    private static string FirewallRules() =>
        Sh.Try("iptables-save").Out + Sh.Try("nft", "list", "table", "ip", "minidocker").Out;

    private static string[] HostVeths() =>
        Sh.Run("ip", "-o", "link", "show", "type", "veth").Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Select(l => l.Split(':')[1].Trim().Split('@')[0]).Where(n => n.StartsWith("mdk")).ToArray();

    /// <summary>Veths made since the test began; the kernel deletes a pair in the background with its namespace.</summary>
    private string[] NewVethsSettled(int expected = 0)
    {
        var deadline = DateTime.UtcNow.AddSeconds(5);
        string[] left;
        while ((left = HostVeths().Where(v => !_vethsBefore.Contains(v)).ToArray()).Length > expected && DateTime.UtcNow < deadline)
            Thread.Sleep(20);
        return left;
    }

    /// <summary>Bridges whose alias is one of this root's tags (minidocker:net:SCOPE:NAME).</summary>
    private static string[] TaggedBridges(string scope) =>
        Sh.Run("ip", "-d", "-o", "link", "show", "type", "bridge").Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Where(l => l.Contains($"alias minidocker:net:{scope}:"))
            .Select(l => l.Split(':')[1].Trim()).ToArray();

    private Result RunWithFailPoint(string point, params string[] args)
    {
        Environment.SetEnvironmentVariable("MINIDOCKER_FAILPOINT", point);
        try { return Md(args); }
        finally { Environment.SetEnvironmentVariable("MINIDOCKER_FAILPOINT", null); }
    }

    // Defect 1 ----------------------------------------------------------------------------------------------------

    [Theory]
    [InlineData("veth")]
    [InlineData("bridge")]
    public void Create_refuses_an_existing_interface_and_leaves_it_as_it_was(string kind)
    {
        string name = "mdkx0" + _suffix, peer = "mdkx1" + _suffix;
        _links.Add(name);
        if (kind == "veth") Sh.Run("ip", "link", "add", name, "type", "veth", "peer", "name", peer);
        else Sh.Run("ip", "link", "add", name, "type", kind);
        string before = Sh.Run("ip", "-d", "link", "show", "dev", name);

        var r = Md("network", "create", "--subnet", Subnet, "-o", $"bridge-name={name}", Net);
        Assert.Equal(125, r.ExitCode);
        Assert.Equal($"minidocker: interface {name} already exists ({kind}): choose another bridge-name\n", r.Stderr);
        Assert.True(LinkExists(name));
        if (kind == "veth") Assert.True(LinkExists(peer));
        Assert.Equal(before, Sh.Run("ip", "-d", "link", "show", "dev", name));
        Assert.Empty(_md.Networks());
        Assert.DoesNotContain(Net, FirewallRules());
    }

    [Fact]
    public void Rm_and_reconcile_leave_alone_an_interface_that_took_the_bridges_name()
    {
        string bridge = "mdkb0" + _suffix, peer = "mdkb1" + _suffix;
        CreateNetwork(Net, Subnet, "-o", $"bridge-name={bridge}");
        // Someone deletes our bridge and makes an interface of their own under its name.
        Sh.Run("ip", "link", "del", bridge);
        _links.Add(bridge);
        Sh.Run("ip", "link", "add", bridge, "type", "veth", "peer", "name", peer);

        var reconcile = Md("network", "reconcile");
        Assert.Equal(125, reconcile.ExitCode);
        Assert.Contains($"interface {bridge} exists and is not network {Net}'s (veth)", reconcile.Stderr);
        Assert.Single(reconcile.Stderr.TrimEnd().Split('\n'));
        var run = Md("run", "--rm", "--net", Net, "busybox", "true");
        Assert.Equal(125, run.ExitCode);
        Assert.Equal(0, Md("network", "rm", Net).ExitCode);
        Assert.True(LinkExists(bridge));
        Assert.True(LinkExists(peer));
        Assert.DoesNotContain($"alias minidocker", Sh.Run("ip", "-d", "link", "show", "dev", bridge));
    }

    // Defect 2 ----------------------------------------------------------------------------------------------------

    [Fact]
    public void Concurrent_runs_publishing_one_host_port_exactly_one_wins()
    {
        CreateNetwork(Net, Subnet);
        for (int round = 0; round < 4; round++)
        {
            int port = HostPorts.Free();
            var results = Enumerable.Range(0, 4).AsParallel().WithDegreeOfParallelism(4)
                .Select(_ => Md("run", "-d", "--net", Net, "-p", $"{port}:80", "busybox", "httpd", "-f", "-p", "80"))
                .ToList();
            var winner = Assert.Single(results, r => r.ExitCode == 0);
            Assert.All(results.Where(r => r != winner), r =>
            {
                Assert.Equal(125, r.ExitCode);
                Assert.Equal($"minidocker: port {port}/tcp is already allocated\n", r.Stderr);
            });
            Assert.Single(_md.ContainerDirs());
            Assert.Contains($"0.0.0.0:{port}->80/tcp", Md("ps").Stdout);
            Assert.Equal(0, Md("rm", "-f", winner.Stdout.Trim()).ExitCode);
        }
        Assert.Empty(NewVethsSettled());
        Assert.DoesNotContain("minidocker:ctr:" + StateRoots.ScopeOf(_md.Root), FirewallRules());
        Assert.Empty(_md.ContainerDirs());
    }

    [Fact]
    public void Concurrent_runs_with_automatic_host_ports_get_distinct_ones()
    {
        Assert.Equal(0, Md("image", "import", "-c", "EXPOSE 80", MiniDocker.BusyboxTar, "exposing").ExitCode);
        CreateNetwork(Net, Subnet);
        var runs = Enumerable.Range(0, 8).AsParallel().WithDegreeOfParallelism(8)
            .Select(i => i % 2 == 0
                ? Md("run", "-d", "--net", Net, "-p", "80", "busybox", "sleep", "60")
                : Md("run", "-d", "--net", Net, "-P", "exposing", "sleep", "60"))
            .ToList();
        Assert.All(runs, r => Assert.True(r.ExitCode == 0, r.ToString()));
        var ports = runs.Select(r => Md("port", r.Stdout.Trim()).Stdout.Trim()).ToList();
        Assert.All(ports, p => Assert.Matches(@"^80/tcp -> 0\.0\.0\.0:\d+$", p));
        Assert.Equal(8, ports.Distinct().Count());
    }

    // Defect 6 ----------------------------------------------------------------------------------------------------

    [Fact]
    public void The_default_network_is_made_only_when_a_container_joins_it()
    {
        string defaultBridge = "mdk0-" + StateRoots.ScopeOf(_md.Root);
        foreach (var verb in new[]
                 {
                     new[] { "ps" }, ["ps", "-a"], ["rm", "-f", "nosuch"], ["network", "ls"], ["network", "inspect", "bridge"],
                     ["network", "reconcile"], ["system", "prune", "-f"], ["inspect", "nosuch"],
                     ["run", "--rm", "--ip", "172.29.0.9", "busybox", "true"],
                 })
        {
            Md(verb);
            Assert.Empty(_md.Networks());
            Assert.False(LinkExists(defaultBridge), string.Join(' ', verb));
        }
        Assert.DoesNotContain("bridge", Md("network", "ls").Stdout.Split('\n').Skip(1));

        Assert.Equal(0, Md("run", "--rm", "busybox", "true").ExitCode);
        Assert.Equal(["bridge"], _md.Networks());
        Assert.True(LinkExists(defaultBridge));
    }

    [Fact]
    public void System_reset_needs_a_terminal_or_f_and_then_removes_everything_of_the_root()
    {
        string scope = StateRoots.ScopeOf(_md.Root);
        CreateNetwork(Net, Subnet);
        int port = HostPorts.Free();
        Assert.Equal(0, Md("run", "-d", "--net", Net, "-p", $"{port}:80", "busybox", "httpd", "-f", "-p", "80").ExitCode);
        Assert.Equal(0, Md("run", "-d", "busybox", "sleep", "60").ExitCode);
        string bridge = BridgeOf(Net);
        Assert.Equal(2, TaggedBridges(scope).Length);
        Assert.True(File.Exists($"/run/minidocker/roots/{scope}"));

        var refused = _md.RunWith("y\n", TimeSpan.FromSeconds(30), "system", "reset");
        Assert.Equal(125, refused.ExitCode);
        Assert.Equal($"minidocker: system reset removes everything of state root {_md.Root}: confirm on a terminal, or pass -f\n", refused.Stderr);
        Assert.Equal(2, Md("ps", "-q").Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).Length);

        var reset = Md("system", "reset", "-f");
        Assert.True(reset.ExitCode == 0, reset.ToString());
        Assert.False(Directory.Exists(_md.Root));
        Assert.Empty(TaggedBridges(scope));
        Assert.False(LinkExists(bridge));
        Assert.DoesNotContain(scope, FirewallRules());
        Assert.DoesNotContain($"10.233.{_octet}.", Sh.Run("ip", "-o", "addr"));
        Assert.Empty(NewVethsSettled());
        Assert.False(File.Exists($"/run/minidocker/roots/{scope}"));
    }

    [Fact]
    public void Reconcile_orphans_removes_what_a_root_deleted_by_hand_left_and_nothing_else()
    {
        using var other = new MiniDocker();
        string otherScope = StateRoots.ScopeOf(other.Root), scope = StateRoots.ScopeOf(_md.Root);
        string otherNet = "onet" + _suffix;
        Assert.Equal(0, other.Run("network", "create", "--subnet", $"10.234.{_octet}.0/24", otherNet).ExitCode);
        Assert.Equal(0, other.Run("run", "-d", "--net", otherNet, "-p", $"{HostPorts.Free()}:80", "busybox", "httpd", "-f", "-p", "80").ExitCode);
        Assert.Equal(0, other.Run("run", "--rm", "busybox", "true").ExitCode); // the other root's default network
        CreateNetwork(Net, Subnet);
        string ours = BridgeOf(Net);
        // Bridges that are not orphans of ours: one tagged for a root this host has no record of, one untagged.
        string unknown = "mdku" + _suffix, untagged = "mdkn" + _suffix;
        _links.AddRange([unknown, untagged]);
        Sh.Run("ip", "link", "add", unknown, "type", "bridge");
        Sh.Run("ip", "link", "set", "dev", unknown, "alias", "minidocker:net:0badf00d:x");
        Sh.Run("ip", "link", "add", untagged, "type", "bridge");

        // The other root deleted by hand, its container killed with its monitor: records gone, host objects left.
        foreach (var dir in other.ContainerDirs())
        {
            var state = JsonDocument.Parse(File.ReadAllText(Path.Combine(dir, "state.json"))).RootElement;
            foreach (var key in new[] { "monitorPid", "pid" }) Sh.Try("kill", "-9", state.GetProperty(key).GetInt32().ToString());
        }
        Thread.Sleep(200);
        Directory.Delete(other.Root, recursive: true);
        string[] left = TaggedBridges(otherScope);
        Assert.Equal(2, left.Length);
        Assert.Contains($"minidocker:ctr:{otherScope}:", FirewallRules());

        var sweep = Md("network", "reconcile", "--orphans");
        Assert.True(sweep.ExitCode == 0, sweep.ToString());
        foreach (var bridge in left) Assert.Contains($"removed bridge {bridge} (root {other.Root})", sweep.Stdout);
        Assert.Empty(TaggedBridges(otherScope));
        Assert.DoesNotContain(otherScope, FirewallRules());
        Assert.False(File.Exists($"/run/minidocker/roots/{otherScope}"));
        // Its name server (the other root's user network had a container) is stopped and its config gone.
        Assert.False(Directory.Exists($"/run/minidocker/aardvark/{otherScope}"));
        Assert.DoesNotContain($"/run/minidocker/aardvark/{otherScope}", Sh.Try("pgrep", "-af", "aardvark-dns").Out);
        // What is not an orphan stays: this root's network, the unknown root's bridge, the untagged bridge.
        Assert.True(LinkExists(ours));
        Assert.Contains($"minidocker:net:{scope}:{Net}", FirewallRules());
        Assert.True(LinkExists(unknown));
        Assert.True(LinkExists(untagged));
        Assert.Contains("0badf00d", sweep.Stderr);
    }

    // Defect 9 ----------------------------------------------------------------------------------------------------

    public static TheoryData<string, string> CrashPoints()
    {
        var data = new TheoryData<string, string>();
        foreach (var step in new[] { "rm-marked", "rm-rules", "rm-bridge", "rm-ipam", "rm-record" })
            foreach (var sweep in new[] { "rm", "reconcile", "prune" })
                data.Add(step, sweep);
        return data;
    }

    [Theory]
    [MemberData(nameof(CrashPoints))]
    public void A_network_rm_killed_at_any_step_is_finished_by_the_next_sweep(string step, string sweep)
    {
        string scope = StateRoots.ScopeOf(_md.Root);
        CreateNetwork(Net, Subnet);
        string bridge = BridgeOf(Net);

        var killed = RunWithFailPoint("crash:" + step, "network", "rm", Net);
        Assert.Equal(137, killed.ExitCode); // 128 + SIGKILL: it died at that step
        var finish = sweep switch
        {
            "rm" => Md("network", "rm", Net),
            "reconcile" => Md("network", "reconcile"),
            _ => Md("system", "prune", "-f"),
        };
        // Killed after its record went, the removal has nothing left to do and `network rm` says so.
        if (!(sweep == "rm" && step == "rm-record")) Assert.True(finish.ExitCode == 0, finish.ToString());

        Assert.Empty(_md.Networks());
        Assert.Empty(Directory.GetFiles(Path.Combine(_md.Root, "networks"), "*.removing"));
        Assert.False(LinkExists(bridge));
        Assert.DoesNotContain($"minidocker:net:{scope}:{Net}", FirewallRules());
        Assert.DoesNotContain($"10.233.{_octet}.1/", Sh.Run("ip", "-o", "addr"));
        CreateNetwork(Net, Subnet);
        Assert.Equal(0, Md("network", "rm", Net).ExitCode);
        Assert.False(File.Exists($"/run/minidocker/roots/{scope}")); // no network left, nothing to place
    }

    // Defect 12 ---------------------------------------------------------------------------------------------------

    [Fact]
    public void The_bridges_mac_stays_what_it_was_made_with_as_containers_come_and_go()
    {
        CreateNetwork(Net, Subnet);
        string bridge = BridgeOf(Net);
        string Mac() => File.ReadAllText($"/sys/class/net/{bridge}/address").Trim();
        string made = Mac();
        Assert.StartsWith("02:", made);
        Assert.Equal("3", File.ReadAllText($"/sys/class/net/{bridge}/addr_assign_type").Trim()); // NET_ADDR_SET

        var ids = Enumerable.Range(0, 3).Select(_ => Md("run", "-d", "--net", Net, "busybox", "sleep", "60").Stdout.Trim()).ToList();
        Assert.Equal(3, NewVethsSettled(3).Length);
        Assert.Equal(made, Mac());
        Assert.Equal(0, Md("rm", "-f", ids[0]).ExitCode);
        Assert.Equal(made, Mac());
        // The containers see the gateway at that address too.
        var arp = Md("exec", ids[1], "sh", "-c", $"ping -c1 -W2 10.233.{_octet}.1 >/dev/null; cat /proc/net/arp");
        if (arp.ExitCode == 0) Assert.Contains(made, arp.Stdout);
    }

    // Defect 14 ---------------------------------------------------------------------------------------------------

    [Theory]
    [InlineData("host", "operation is not permitted on predefined host network")]
    [InlineData("none", "operation is not permitted on predefined none network")]
    [InlineData("bridge", "network name bridge is reserved for the default network")]
    public void Network_names_of_predefined_networks_are_refused(string name, string message)
    {
        var r = Md("network", "create", "--subnet", Subnet, name);
        Assert.Equal(125, r.ExitCode);
        Assert.Equal($"minidocker: {message}\n", r.Stderr);
        Assert.Empty(_md.Networks());
    }

    [Theory]
    [InlineData("none")]
    [InlineData("host")]
    [InlineData("bridge")]
    [InlineData(null)]
    public void Ip_is_refused_except_on_a_user_defined_network(string? mode)
    {
        string[] net = mode is null ? [] : ["--net", mode];
        var r = Md(["run", "--rm", .. net, "--ip", "172.29.0.9", "busybox", "true"]);
        Assert.Equal(125, r.ExitCode);
        Assert.Equal("minidocker: user specified IP address is supported on user defined networks only\n", r.Stderr);
        Assert.Empty(_md.ContainerDirs());
        Assert.Empty(_md.Networks());
    }

    [Fact]
    public void Ports_are_refused_with_net_none_and_dropped_with_a_warning_with_net_host()
    {
        var none = Md("run", "--rm", "--net", "none", "-p", "80", "busybox", "true");
        Assert.Equal(125, none.ExitCode);
        Assert.Equal("minidocker: conflicting options: port publishing and network mode none\n", none.Stderr);

        int port = HostPorts.Free();
        var host = Md("run", "--rm", "--net", "host", "-p", $"{port}:80", "busybox", "true");
        Assert.Equal(0, host.ExitCode);
        Assert.Equal("WARNING: Published ports are discarded when using host network mode\n", host.Stderr);
        Assert.DoesNotContain($"--dport {port} ", FirewallRules());
        Assert.Empty(_md.ContainerDirs());
    }

    // Defect 13 ---------------------------------------------------------------------------------------------------

    [Fact]
    public void A_full_disk_during_network_create_is_one_line_and_leaves_nothing()
    {
        using var md = new MiniDocker(importBusybox: false);
        string scope = StateRoots.ScopeOf(md.Root);
        Sh.Run("mount", "-t", "tmpfs", "-o", "size=256k", "mdk-enospc", md.Root);
        try
        {
            Assert.Equal(0, md.Run("network", "ls").ExitCode); // the root's config is written
            Sh.Try("dd", "if=/dev/zero", $"of={Path.Combine(md.Root, "fill")}", "bs=4k");
            var r = md.Run("network", "create", "--subnet", Subnet, Net);
            Assert.Equal(125, r.ExitCode);
            Assert.Matches($@"^minidocker: cannot write {Regex.Escape(md.Root)}/networks/{Net}\.json: No space left on device\n$", r.Stderr);
            Assert.Empty(md.Networks());
            Assert.Empty(Directory.GetFiles(Path.Combine(md.Root, "networks"), ".*tmp*", SearchOption.AllDirectories));
            Assert.Empty(TaggedBridges(scope));
            Assert.DoesNotContain(scope, FirewallRules());

            File.Delete(Path.Combine(md.Root, "fill"));
            CreateNetworkIn(md, Net, Subnet);
            Assert.Equal(0, md.Run("network", "rm", Net).ExitCode);
        }
        finally
        {
            Sh.Try("umount", md.Root);
        }
    }

    private static void CreateNetworkIn(MiniDocker md, string name, string subnet)
    {
        var r = md.Run("network", "create", "--subnet", subnet, name);
        Assert.True(r.ExitCode == 0, r.ToString());
    }
}
