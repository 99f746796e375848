using System.Diagnostics;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace MiniDocker.IntegrationTests;

/// <summary>IPv6 dual stack through the iptables backend (ip6tables).</summary>
public sealed class IptablesNetworkIpv6Tests() : NetworkIpv6Tests("iptables");

/// <summary>IPv6 dual stack through the nftables backend (table ip6 minidocker).</summary>
public sealed class NftablesNetworkIpv6Tests() : NetworkIpv6Tests("nftables");

/// <summary>
/// Dual-stack networks end to end: IPv6 between containers, NAT66 to a simulated upstream, published ports on [::1]
/// and on the host's IPv6 address from a simulated outside client, bad input, and nothing left after removal. All
/// traffic stays on loopback or in namespaces the tests make (ULA fdXX:... subnets picked at random).
/// </summary>
public abstract class NetworkIpv6Tests(string firewall) : IDisposable
{
    private readonly MiniDocker _md = new(firewall: firewall);
    private readonly string _suffix = Guid.NewGuid().ToString("N")[..6];
    private readonly int _octet = Random.Shared.Next(1, 255);
    private readonly string _prefix6 = $"fd{Random.Shared.Next(16, 255):x2}:{Random.Shared.Next(1, 0xffff):x}:{Random.Shared.Next(1, 0xffff):x}";
    private string Net => "v6" + _suffix;
    private string Subnet => $"10.232.{_octet}.0/24";
    private string Subnet6 => $"{_prefix6}::/64";
    private string Ip6(int host) => $"{_prefix6}::{host:x}";

    // The runtime turns IPv6 forwarding on and never off (as ip_forward); the test gives the host back what it had.
    private const string Forwarding6 = "/proc/sys/net/ipv6/conf/all/forwarding";
    private readonly string _forwardingBefore = File.ReadAllText(Forwarding6).Trim();

    public void Dispose()
    {
        _md.Dispose();
        if (File.ReadAllText(Forwarding6).Trim() != _forwardingBefore) File.WriteAllText(Forwarding6, _forwardingBefore + "\n");
        GC.SuppressFinalize(this);
    }

    private Result Md(params string[] args) => _md.Run(args);

    private void CreateDualStack(string name, string subnet, string subnet6, params string[] extra)
    {
        var r = Md(["network", "create", "--ipv6", "--subnet", subnet, "--subnet", subnet6, .. extra, name]);
        Assert.True(r.ExitCode == 0, r.ToString());
    }

    private string RunDetached(params string[] args)
    {
        var r = Md(["run", "-d", .. args]);
        Assert.True(r.ExitCode == 0, r.ToString());
        return r.Stdout.Trim();
    }

    /// <summary>httpd serving its own hostname.</summary>
    private string WebServer(string name, params string[] extra) =>
        RunDetached([.. extra, "--name", name, "busybox", "sh", "-c",
            "mkdir -p /www && hostname > /www/index.html && exec httpd -f -p 80 -h /www"]);

    private static string Rules6() =>
        Sh.Try("ip6tables-save").Out + Sh.Try("nft", "list", "table", "ip6", "minidocker").Out;

    private string Scope => StateRoots.ScopeOf(_md.Root);

    /// <summary>Relay processes (PortProxy) of this state root: pid and command line.</summary>
    private (string Pid, string Cmdline)[] RelayProcesses() =>
        Directory.GetDirectories("/proc").Select(d => Path.GetFileName(d)).Where(p => p.All(char.IsAsciiDigit))
            .Select(pid => { try { return (pid, File.ReadAllText($"/proc/{pid}/cmdline")); } catch (IOException) { return (pid, ""); } })
            .Where(p => p.Item2.Contains("\0port-proxy\0" + _md.Root + "/", StringComparison.Ordinal)).ToArray();

    private string[] Relays() => RelayProcesses().Select(p => p.Cmdline).ToArray();

    /// <summary>The "Name:\tvalue" lines of a /proc/PID/status or /proc/PID/task/TID/status.</summary>
    private static Dictionary<string, string> Status(string procDir) =>
        File.ReadAllLines(Path.Combine(procDir, "status")).Select(l => l.Split(':', 2))
            .ToDictionary(f => f[0], f => f[1].Trim());

    /// <summary>No container rule of this root in the IPv6 tables, no relay process.</summary>
    private void AssertNoContainerLeft()
    {
        string tagPart = Scope.Length == 0 ? "minidocker:ctr:" : $"minidocker:ctr:{Scope}:";
        Assert.DoesNotContain(tagPart, Rules6());
        Assert.Empty(Relays());
    }

    /// <summary>Also no address or route of the network's IPv6 prefix (its bridge is gone).</summary>
    private void AssertNothingLeft(string prefix6)
    {
        AssertNoContainerLeft();
        Assert.DoesNotContain(prefix6 + ":", Sh.Run("ip", "-6", "-o", "addr"));
        Assert.DoesNotContain(prefix6 + ":", Sh.Run("ip", "-6", "route"));
    }

    private static string Curl(string url) => Sh.Run("curl", "-sS", "--max-time", "5", url);

    [Fact]
    public void Dual_stack_containers_talk_over_ipv6_and_inspect_shows_both_families()
    {
        CreateDualStack(Net, Subnet, Subnet6);
        var ls = JsonDocument.Parse(Md("network", "inspect", Net).Stdout).RootElement[0];
        Assert.True(ls.GetProperty("EnableIPv6").GetBoolean());
        Assert.Equal(Subnet6, ls.GetProperty("Subnet6").GetString());
        Assert.Equal(Ip6(1), ls.GetProperty("Gateway6").GetString());
        Assert.Contains($"inet6 {Ip6(1)}/64", Sh.Run("ip", "-6", "-o", "addr"));

        string id = WebServer("web6", "--net", Net, "--ip6", Ip6(0x80));
        var settings = JsonDocument.Parse(Md("inspect", id).Stdout).RootElement[0].GetProperty("NetworkSettings").GetProperty("Networks").GetProperty(Net);
        Assert.Equal(Ip6(0x80), settings.GetProperty("GlobalIPv6Address").GetString());
        Assert.Equal(64, settings.GetProperty("GlobalIPv6PrefixLen").GetInt32());
        Assert.Equal(Ip6(1), settings.GetProperty("IPv6Gateway").GetString());
        Assert.StartsWith("10.232.", settings.GetProperty("IPAddress").GetString());

        // Inside: the address, the default route via the gateway, no router advertisements taken.
        var inside = Md("exec", "web6", "sh", "-c", "ip -6 addr show eth0; ip -6 route; cat /proc/sys/net/ipv6/conf/eth0/accept_ra");
        Assert.Contains($"inet6 {Ip6(0x80)}/64", inside.Stdout);
        Assert.Contains($"default via {Ip6(1)} dev eth0", inside.Stdout);
        Assert.EndsWith("0\n", inside.Stdout);

        // The automatic address is the subnet's ::2, the next after the gateway.
        var auto = Md("run", "--rm", "--net", Net, "busybox", "ip", "-6", "-o", "addr", "show", "eth0", "scope", "global");
        Assert.Contains($"inet6 {Ip6(2)}/64", auto.Stdout);
        var ping = Md("run", "--rm", "--net", Net, "busybox", "ping6", "-c", "1", "-W", "3", Ip6(0x80));
        Assert.True(ping.ExitCode == 0, ping.ToString());
        var wget = Md("run", "--rm", "--net", Net, "busybox", "sh", "-c", $"timeout 5 wget -qO- http://[{Ip6(0x80)}]/; exit $?");
        Assert.Equal(id[..12] + "\n", wget.Stdout);
        Md("rm", "-f", "web6");
    }

    [Fact]
    public void Containers_on_two_dual_stack_networks_are_isolated_over_ipv6()
    {
        CreateDualStack(Net, Subnet, Subnet6);
        string other6 = $"fd{Random.Shared.Next(16, 255):x2}:{Random.Shared.Next(1, 0xffff):x}:{Random.Shared.Next(1, 0xffff):x}";
        CreateDualStack(Net + "b", $"10.233.{_octet}.0/24", other6 + "::/64");
        WebServer("iso6", "--net", Net + "b");
        var blocked = Md("run", "--rm", "--net", Net, "busybox", "sh", "-c", $"timeout 3 wget -qO- http://[{other6}::2]/; exit $?");
        Assert.NotEqual(0, blocked.ExitCode);
        Assert.Equal("", blocked.Stdout);
        Md("rm", "-f", "iso6");
        Assert.Equal(0, Md("network", "rm", Net + "b").ExitCode);
        AssertNothingLeft(other6);
    }

    [Fact]
    public void Outbound_ipv6_is_masqueraded_to_the_hosts_address_on_the_upstream_link()
    {
        CreateDualStack(Net, Subnet, Subnet6);
        using var wan = new Wan6Namespace();
        wan.ServeRemoteAddr(8000);
        var r = Md("run", "--rm", "--net", Net, "busybox", "sh", "-c", $"timeout 5 wget -qO- http://[{wan.WanAddress}]:8000/cgi-bin/ip; exit $?");
        Assert.True(r.ExitCode == 0, r.ToString());
        // busybox httpd writes the client address in brackets or not, by version: the host's link address, not ::2.
        Assert.Equal(wan.HostAddress, r.Stdout.Trim().Trim('[', ']'));
    }

    [Fact]
    public void A_published_port_answers_on_ipv6_loopback_and_from_outside_for_dual_stack_and_ipv4_only_containers()
    {
        CreateDualStack(Net, Subnet, Subnet6);
        var ipv4Only = Md("network", "create", "--subnet", $"10.234.{_octet}.0/24", Net + "4");
        Assert.True(ipv4Only.ExitCode == 0, ipv4Only.ToString());
        int dual = HostPorts.Free(), single = HostPorts.Free();
        string dualId = WebServer("pub6", "--net", Net, "-p", $"{dual}:80");
        string singleId = WebServer("pub4", "--net", Net + "4", "-p", $"{single}:80");

        // curl's localhost tries ::1 first; the [::1] form proves the IPv6 side on its own.
        Assert.Equal(dualId[..12] + "\n", Curl($"http://[::1]:{dual}/"));
        Assert.Equal(singleId[..12] + "\n", Curl($"http://[::1]:{single}/"));
        Assert.Equal(singleId[..12] + "\n", Curl($"http://localhost:{single}/"));
        Assert.Equal(dualId[..12] + "\n", Curl($"http://127.0.0.1:{dual}/"));

        // From a simulated outside client to the host's IPv6 address on that link: DNAT for the dual-stack container,
        // the relay for the IPv4-only one.
        using var wan = new Wan6Namespace();
        Assert.Equal(dualId[..12], wan.Exec("busybox", "timeout", "5", "wget", "-qO-", $"http://[{wan.HostAddress}]:{dual}/").Trim());
        Assert.Equal(singleId[..12], wan.Exec("busybox", "timeout", "5", "wget", "-qO-", $"http://[{wan.HostAddress}]:{single}/").Trim());
        Assert.Contains($"[{Ip6(2)}]:80", Rules6()); // the IPv6 DNAT rule, in either backend's spelling

        Assert.Equal(0, Md("rm", "-f", "pub6", "pub4").ExitCode);
        Assert.NotEqual(0, Sh.Try("curl", "-sS", "--max-time", "2", $"http://[::1]:{single}/").Code);
        AssertNoContainerLeft();
        Assert.Equal(0, Md("network", "rm", Net, Net + "4").ExitCode);
        AssertNothingLeft(_prefix6);
        Assert.False(Directory.Exists(Path.Combine(_md.Root, "networks", "ipam", "ipv6", Net + ".json")));
    }

    [Fact]
    public void The_port_relay_runs_as_nobody_without_capabilities_and_still_answers_on_ipv6_loopback()
    {
        CreateDualStack(Net, Subnet, Subnet6);
        int port = HostPorts.Free();
        string id = WebServer("nobody6", "--net", Net, "-p", $"{port}:80");
        var (pid, cmdline) = Assert.Single(RelayProcesses());
        // Every thread, not only the main one: a thread left as root would be root for the whole process.
        string[] tasks = Directory.GetDirectories($"/proc/{pid}/task");
        Assert.NotEmpty(tasks);
        foreach (string task in tasks)
        {
            var status = Status(task);
            Assert.Equal("65534\t65534\t65534\t65534", status["Uid"]);
            Assert.Equal("65534\t65534\t65534\t65534", status["Gid"]);
            Assert.Equal("", status["Groups"]);
            Assert.Equal("0000000000000000", status["CapEff"]);
            Assert.Equal("0000000000000000", status["CapPrm"]);
            Assert.Equal("0000000000000000", status["CapAmb"]);
            Assert.Equal("1", status["NoNewPrivs"]);
        }

        Assert.Equal(id[..12] + "\n", Curl($"http://[::1]:{port}/"));
        Assert.Equal(id[..12] + "\n", Curl($"http://[::1]:{port}/"));

        // As nobody it cannot see into the 0700 state root, yet it still stops by itself when its pid file goes (the
        // state root deleted under a running container): it watches the file by descriptor.
        File.Delete(cmdline.Split('\0')[2]);
        for (int i = 0; i < 100 && Directory.Exists($"/proc/{pid}") && !File.ReadAllText($"/proc/{pid}/stat").Contains(") Z ", StringComparison.Ordinal); i++)
            Thread.Sleep(100);
        Assert.Empty(Relays());
        Assert.NotEqual(0, Sh.Try("curl", "-sS", "--max-time", "2", $"http://[::1]:{port}/").Code);
        Assert.Equal(0, Md("rm", "-f", "nobody6").ExitCode);
        AssertNoContainerLeft();
    }

    [Fact]
    public void Reconcile_restores_a_deleted_ipv6_rule_and_leaves_the_rest_alone()
    {
        CreateDualStack(Net, Subnet, Subnet6);
        int port = HostPorts.Free();
        string id = WebServer("rec6", "--net", Net, "-p", $"{port}:80");
        using var wan = new Wan6Namespace();
        Assert.Equal(id[..12], wan.Exec("busybox", "timeout", "5", "wget", "-qO-", $"http://[{wan.HostAddress}]:{port}/").Trim());
        // Only our own rule, by its handle or spec: never a flush of a table or chain on this shared host.
        if (firewall == "iptables")
        {
            string rule = Sh.Run("ip6tables-save", "-t", "nat").Split('\n').Single(l => l.StartsWith("-A MINIDOCKER ") && l.Contains($"[{Ip6(2)}]:80"));
            Sh.Run("sh", "-c", $"ip6tables -t nat {rule.Replace("-A ", "-D ")}");
        }
        else
        {
            string line = Sh.Run("nft", "-a", "list", "chain", "ip6", "minidocker", "MINIDOCKER").Split('\n').Single(l => l.Contains($"[{Ip6(2)}]:80"));
            Sh.Run("nft", "delete", "rule", "ip6", "minidocker", "MINIDOCKER", "handle", line[(line.LastIndexOf(' ') + 1)..]);
        }
        Assert.DoesNotContain($"[{Ip6(2)}]:80", Rules6());
        Assert.Equal(0, Md("network", "reconcile").ExitCode);
        Assert.Contains($"[{Ip6(2)}]:80", Rules6());
        Assert.Equal(id[..12], wan.Exec("busybox", "timeout", "5", "wget", "-qO-", $"http://[{wan.HostAddress}]:{port}/").Trim());
        Md("rm", "-f", "rec6");
    }

    [Fact]
    public void Bad_ipv6_input_is_refused_with_one_line_and_leaves_nothing()
    {
        CreateDualStack(Net, Subnet, Subnet6);
        void Refused(string expected, params string[] args)
        {
            var r = Md(args);
            Assert.Equal(125, r.ExitCode);
            Assert.Contains(expected, r.Stderr);
            Assert.Single(r.Stderr.Trim().Split('\n'));
        }
        Refused($"overlaps IPv6 subnet {Subnet6} of network {Net}",
            "network", "create", "--ipv6", "--subnet", $"10.235.{_octet}.0/24", "--subnet", $"{_prefix6}::/56", Net + "x");
        Refused("prefix must be at most /64",
            "network", "create", "--ipv6", "--subnet", $"10.235.{_octet}.0/24", "--subnet", $"{_prefix6}:1::/80", Net + "x");
        Refused("without --ipv6", "network", "create", "--subnet", $"10.235.{_octet}.0/24", "--subnet", $"{_prefix6}:1::/64", Net + "x");
        Refused("host bits are set", "network", "create", "--ipv6", "--subnet", $"{_prefix6}:1::5/64", Net + "x");
        Refused("link-local", "network", "create", "--ipv6", "--subnet", "fe80:1::/64", Net + "x");
        Refused("overlaps host route", "network", "create", "--ipv6", "--subnet", HostGlobalPrefix(), Net + "x");
        Refused($"outside subnet {Subnet6}", "run", "--rm", "--net", Net, "--ip6", "fd00:dead::5", "busybox", "true");
        Refused("is the gateway", "run", "--rm", "--net", Net, "--ip6", Ip6(1), "busybox", "true");
        Refused("invalid IPv6 address", "run", "--rm", "--net", Net, "--ip6", "10.0.0.1", "busybox", "true");
        Assert.DoesNotContain(Net + "x", Md("network", "ls").Stdout);
        Assert.Empty(_md.ContainerDirs());
        AssertNothingLeft(_prefix6 + ":1");
    }

    [Fact]
    public void Ip6_on_a_network_without_ipv6_is_refused()
    {
        Assert.Equal(0, Md("network", "create", "--subnet", Subnet, Net).ExitCode);
        var r = Md("run", "--rm", "--net", Net, "--ip6", Ip6(5), "busybox", "true");
        Assert.Equal(125, r.ExitCode);
        Assert.Contains($"network {Net} has no IPv6", r.Stderr);
        Assert.Empty(_md.ContainerDirs());
    }

    [Theory]
    [InlineData("ipam")]
    [InlineData("veth")]
    [InlineData("route")]
    [InlineData("ports")]
    [InlineData("run.ports-published")]
    public void A_failure_at_any_setup_step_leaves_no_ipv6_address_rule_or_relay(string step)
    {
        CreateDualStack(Net, Subnet, Subnet6);
        Environment.SetEnvironmentVariable("MINIDOCKER_FAILPOINT", step);
        Result r;
        try { r = Md("run", "--net", Net, "-p", $"{HostPorts.Free()}:80", "busybox", "true"); }
        finally { Environment.SetEnvironmentVariable("MINIDOCKER_FAILPOINT", null); }
        Assert.Equal(125, r.ExitCode);
        Assert.Contains($"injected failure at step '{step}'", r.Stderr);
        string ipam = Path.Combine(_md.Root, "networks", "ipam", "ipv6", Net + ".json");
        if (File.Exists(ipam)) Assert.DoesNotContain(_prefix6, File.ReadAllText(ipam).Split("Allocations")[1]);
        Assert.Empty(Relays());
        string tagPart = Scope.Length == 0 ? "minidocker:ctr:" : $"minidocker:ctr:{Scope}:";
        Assert.DoesNotContain(tagPart, Rules6());
        Assert.Equal(0, Md("network", "rm", Net).ExitCode);
        AssertNothingLeft(_prefix6);
    }

    /// <summary>The /64 of the host's own global IPv6 address, if it has one (else a subnet of a route we add is
    /// not worth the trouble: the overlap check is then proved by the IPv4 tests' host routes).</summary>
    private static string HostGlobalPrefix()
    {
        var m = Regex.Match(Sh.Run("ip", "-6", "route"), @"^(f[cd][0-9a-f]{2}:[0-9a-f:]*/64) dev", RegexOptions.Multiline);
        return m.Success ? m.Groups[1].Value : throw new InvalidOperationException("the host has no ULA /64 route to overlap");
    }
}

/// <summary>
/// A simulated IPv6 neighbour ("wan6"): a network namespace joined to the host by a veth pair on a random ULA /64,
/// with nodad addresses (usable at once). Removed on dispose.
/// </summary>
public sealed class Wan6Namespace : IDisposable
{
    public string Name { get; } = "mdkw6-" + Guid.NewGuid().ToString("N")[..6];
    public string HostLink { get; }
    public string HostAddress { get; }
    public string WanAddress { get; }
    private readonly List<Process> _servers = new();

    public Wan6Namespace()
    {
        string prefix = $"fd{Random.Shared.Next(16, 255):x2}:{Random.Shared.Next(1, 0xffff):x}:{Random.Shared.Next(1, 0xffff):x}:1";
        HostAddress = prefix + "::1";
        WanAddress = prefix + "::2";
        HostLink = "mdk6" + Name[^6..];
        Sh.Run("ip", "netns", "add", Name);
        try
        {
            Sh.Run("ip", "link", "add", HostLink, "type", "veth", "peer", "name", "wan0", "netns", Name);
            Sh.Run("ip", "addr", "add", HostAddress + "/64", "dev", HostLink, "nodad");
            Sh.Run("ip", "link", "set", HostLink, "up");
            Exec("ip", "addr", "add", WanAddress + "/64", "dev", "wan0", "nodad");
            Exec("ip", "link", "set", "wan0", "up");
            Exec("ip", "link", "set", "lo", "up");
            Exec("ip", "-6", "route", "add", "default", "via", HostAddress);
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    public string Exec(params string[] args) => Sh.Run("ip", ["netns", "exec", Name, .. args]);

    /// <summary>busybox httpd on [WanAddress]:port with a CGI answering the client address it sees.</summary>
    public void ServeRemoteAddr(int port)
    {
        string dir = Path.Combine(Path.GetTempPath(), Name);
        Directory.CreateDirectory(Path.Combine(dir, "cgi-bin"));
        string cgi = Path.Combine(dir, "cgi-bin", "ip");
        File.WriteAllText(cgi, "#!/bin/sh\necho 'Content-Type: text/plain'\necho\necho \"$REMOTE_ADDR\"\n");
        File.SetUnixFileMode(cgi, (UnixFileMode)0x1ED);
        var psi = new ProcessStartInfo("ip", ["netns", "exec", Name, "busybox", "httpd", "-f", "-p", $"[{WanAddress}]:{port}", "-h", dir]);
        _servers.Add(Process.Start(psi)!);
        Thread.Sleep(200);
    }

    public void Dispose()
    {
        foreach (var s in _servers) { try { s.Kill(); s.WaitForExit(); } catch (InvalidOperationException) { } }
        Sh.Try("ip", "link", "del", HostLink);
        Sh.Try("ip", "netns", "del", Name);
        try { Directory.Delete(Path.Combine(Path.GetTempPath(), Name), true); } catch (IOException) { }
    }
}
