using System.Diagnostics;
using System.Text.Json;

namespace MiniDocker.IntegrationTests;

/// <summary>
/// Names on user networks (aardvark-dns), --dns/--add-host, and what an attacker could try through names. Every
/// minidocker command runs in a mount namespace of its own whose /etc/resolv.conf names 127.0.0.1 (where nothing
/// answers on port 53): the aardvark-dns it starts forwards names it does not know there, never to the host's
/// resolvers. Each test checks that before it sends a query.
/// </summary>
public sealed class NetworkNamesTests : IDisposable
{
    private readonly LoopbackResolvers _resolvers = new();
    private readonly MiniDocker _md;
    private readonly string _sfx = Guid.NewGuid().ToString("N")[..6];
    private readonly int _octet = Random.Shared.Next(1, 255);
    private string NetA => "na" + _sfx;
    private string NetB => "nb" + _sfx;
    private string SubnetA => $"10.241.{_octet}.0/24";
    private string SubnetB => $"10.242.{_octet}.0/24";
    private string GatewayA => $"10.241.{_octet}.1";

    public NetworkNamesTests() => _md = new MiniDocker(launcher: _resolvers.Launcher);

    public void Dispose()
    {
        var pid = AardvarkPid();
        _md.Dispose();
        if (pid is int p && Alive(p)) Process.Start("kill", ["-9", p.ToString()])?.WaitForExit();
        _resolvers.Dispose();
        Assert.False(pid is int q && Alive(q), "aardvark-dns outlived its networks");
    }

    private Result Md(params string[] args) => _md.Run(args);

    private void Ok(Result r) => Assert.True(r.ExitCode == 0, r.ToString());

    private string ConfigDir => Path.Combine("/run/minidocker/aardvark", StateRoots.ScopeOf(_md.Root));

    private int? AardvarkPid()
    {
        string file = Path.Combine(ConfigDir, "aardvark.pid");
        return File.Exists(file) && int.TryParse(File.ReadAllText(file).Trim(), out int pid) ? pid : null;
    }

    private static bool Alive(int pid) =>
        File.Exists($"/proc/{pid}/cmdline") && File.ReadAllText($"/proc/{pid}/cmdline").Contains("aardvark-dns");

    /// <summary>Before any query: the running aardvark-dns forwards to 127.0.0.1 only.</summary>
    private void AssertUpstreamIsLoopback()
    {
        int pid = AardvarkPid() ?? throw new InvalidOperationException("aardvark-dns is not running");
        Assert.True(Alive(pid));
        Assert.Equal("nameserver 127.0.0.1\n", File.ReadAllText($"/proc/{pid}/root/etc/resolv.conf"));
    }

    private string IpOf(string container, string network) =>
        JsonDocument.Parse(Md("inspect", container).Stdout).RootElement[0].GetProperty("NetworkSettings").GetProperty("Networks")
            .GetProperty(network).GetProperty("IPAddress").GetString()!;

    /// <summary>busybox nslookup from a fresh container on <paramref name="network"/>: the A record, or null.</summary>
    private string? Lookup(string network, string name)
    {
        // The server runs while a container is on a user network: keep one there, so it can be checked first.
        if (AardvarkPid() is not int pid || !Alive(pid)) Ok(Md("run", "-d", "--net", network, "busybox", "sleep", "300"));
        AssertUpstreamIsLoopback();
        var r = Md("run", "--rm", "--net", network, "busybox", "sh", "-c", $"timeout 5 nslookup -type=a {name}; true");
        var answer = r.Stdout.Split("Name:", 2);
        if (answer.Length < 2) return null;
        var address = answer[1].Split('\n').Select(l => l.Trim()).FirstOrDefault(l => l.StartsWith("Address:"));
        return address?["Address:".Length..].Trim();
    }

    private void CreateNetworks()
    {
        Ok(Md("network", "create", "--subnet", SubnetA, NetA));
        Ok(Md("network", "create", "--subnet", SubnetB, NetB));
    }

    [Fact]
    public void Containers_resolve_each_other_by_name_short_id_and_alias_on_their_network_only()
    {
        CreateNetworks();
        string web = "web" + _sfx;
        var run = Md("run", "-d", "--net", NetA, "--name", web, "--network-alias", "db" + _sfx, "busybox", "sleep", "300");
        Ok(run);
        string id = run.Stdout.Trim();
        string ip = IpOf(web, NetA);

        Assert.Equal($"nameserver {GatewayA}\n", Md("run", "--rm", "--net", NetA, "busybox", "cat", "/etc/resolv.conf").Stdout);
        Assert.Equal(ip, Lookup(NetA, web));
        Assert.Equal(ip, Lookup(NetA, "db" + _sfx));
        Assert.Equal(ip, Lookup(NetA, id[..12]));
        // Another network's containers do not see it.
        Assert.Null(Lookup(NetB, web));
        Assert.Null(Lookup(NetB, "db" + _sfx));

        // Removed: gone from the name server at once.
        Ok(Md("rm", "-f", web));
        string file = Path.Combine(ConfigDir, NetA); // no container left on it: no file (and maybe no server) at all
        Assert.False(File.Exists(file) && File.ReadAllText(file).Contains(web));
        Assert.Null(Lookup(NetA, web));
    }

    [Fact]
    public void Aardvark_listens_on_gateways_only_restarts_after_a_crash_and_goes_with_the_last_network()
    {
        CreateNetworks();
        Ok(Md("run", "-d", "--net", NetA, "--name", "a" + _sfx, "busybox", "sleep", "300"));
        Ok(Md("run", "-d", "--net", NetB, "--name", "b" + _sfx, "busybox", "sleep", "300"));
        int pid = AardvarkPid() ?? throw new InvalidOperationException("no aardvark-dns");
        var sockets = Sh.Run("ss", "-Hulpn").Split('\n').Where(l => l.Contains($"pid={pid},")).Select(l => l.Split(' ', StringSplitOptions.RemoveEmptyEntries)[3]).Order().ToList();
        Assert.Equal(new[] { $"{GatewayA}:53", $"10.242.{_octet}.1:53" }.Order(), sockets);
        // Root only: the directory 0700, the files 0600.
        Assert.Equal((UnixFileMode)0x1C0, File.GetUnixFileMode(ConfigDir));
        Assert.Equal((UnixFileMode)0x180, File.GetUnixFileMode(Path.Combine(ConfigDir, NetA)));

        // Killed: the next container that needs names starts it again.
        Process.Start("kill", ["-9", pid.ToString()])!.WaitForExit();
        for (int i = 0; i < 100 && Alive(pid); i++) Thread.Sleep(20);
        Ok(Md("run", "-d", "--net", NetA, "--name", "c" + _sfx, "busybox", "sleep", "300"));
        int restarted = AardvarkPid() ?? 0;
        Assert.NotEqual(pid, restarted);
        Assert.True(Alive(restarted));
        Assert.Equal(IpOf("a" + _sfx, NetA), Lookup(NetA, "a" + _sfx));

        // The last container of a network goes: its names go at once, the server stays while the network exists
        // (the next run on it pays no new start).
        Ok(Md("rm", "-f", "a" + _sfx, "c" + _sfx, "b" + _sfx));
        Assert.Equal(GatewayA + "\n", File.ReadAllText(Path.Combine(ConfigDir, NetA)));
        Assert.True(Alive(restarted));
        Ok(Md("network", "rm", NetA));
        Assert.False(File.Exists(Path.Combine(ConfigDir, NetA)));
        Assert.True(Alive(restarted));
        // The last network that needs it goes: so does it, and its configuration.
        Ok(Md("network", "rm", NetB));
        for (int i = 0; i < 100 && Alive(restarted); i++) Thread.Sleep(20);
        Assert.False(Alive(restarted));
        Assert.False(Directory.Exists(ConfigDir));
        Assert.False(File.Exists(ConfigDir + ".log"));
    }

    [Fact]
    public void System_reset_stops_aardvark()
    {
        CreateNetworks();
        Ok(Md("run", "-d", "--net", NetA, "busybox", "sleep", "300"));
        int pid = AardvarkPid() ?? throw new InvalidOperationException("no aardvark-dns");
        Ok(Md("system", "reset", "-f"));
        for (int i = 0; i < 100 && Alive(pid); i++) Thread.Sleep(20);
        Assert.False(Alive(pid));
        Assert.False(Directory.Exists(ConfigDir));
    }

    [Fact]
    public void Names_cannot_add_lines_to_the_name_server_configuration_or_hosts_file()
    {
        CreateNetworks();
        // An alias with a newline would be a second container line (a name of the attacker's at an address of theirs).
        var alias = Md("run", "-d", "--net", NetA, "--network-alias", "x\n0123456789ab 10.9.9.9  victim", "busybox", "sleep", "300");
        Assert.Equal(125, alias.ExitCode);
        Assert.Contains("invalid --network-alias", alias.Stderr);
        var comma = Md("run", "-d", "--net", NetA, "--network-alias", "x,victim", "busybox", "sleep", "300");
        Assert.NotEqual(0, comma.ExitCode);
        var name = Md("run", "-d", "--net", NetA, "--name", "a b", "busybox", "sleep", "300");
        Assert.NotEqual(0, name.ExitCode);
        var host = Md("run", "--rm", "--add-host", "evil\n10.9.9.9 victim:10.1.1.1", "busybox", "true");
        Assert.NotEqual(0, host.ExitCode);
        var dns = Md("run", "--rm", "--dns", "10.1.1.1\nnameserver 10.9.9.9", "busybox", "true");
        Assert.NotEqual(0, dns.ExitCode);
        Assert.Empty(_md.ContainerDirs());

        // The same switches with plain names work, one line each.
        var ok = Md("run", "-d", "--net", NetA, "--name", "ok" + _sfx, "--network-alias", "victim", "busybox", "sleep", "300");
        Ok(ok);
        string id = ok.Stdout.Trim();
        var connectAlias = Md("network", "connect", "--alias", "y\nz", NetB, "ok" + _sfx);
        Assert.NotEqual(0, connectAlias.ExitCode);
        var lines = File.ReadAllLines(Path.Combine(ConfigDir, NetA));
        Assert.Equal([GatewayA, $"{id} {IpOf(id, NetA)}  ok{_sfx},victim,{id[..12]}"], lines);
    }

    [Fact]
    public void Dns_and_add_host_options_shape_resolv_conf_and_hosts()
    {
        CreateNetworks();
        var r = Md("run", "--rm", "--net", NetA, "--hostname", "box", "--dns", "192.0.2.53", "--dns-search", "corp.test",
            "--dns-option", "ndots:2", "--add-host", "db.local:192.0.2.7", "--add-host", "gw:host-gateway",
            "busybox", "sh", "-c", "cat /etc/resolv.conf; echo ---; cat /etc/hosts");
        Ok(r);
        var parts = r.Stdout.Split("---\n");
        // The network's name server first (names of the network), then the user's.
        Assert.Equal($"search corp.test\nnameserver {GatewayA}\nnameserver 192.0.2.53\noptions ndots:2\n", parts[0]);
        Assert.Contains("192.0.2.7\tdb.local\n", parts[1]);
        Assert.Contains($"{GatewayA}\tgw\n", parts[1]);

        // The default network has no name server: --dns replaces the host's.
        var d = Md("run", "--rm", "--dns", "192.0.2.54", "--add-host", "gw:host-gateway", "busybox", "sh", "-c", "cat /etc/resolv.conf; echo ---; cat /etc/hosts");
        Ok(d);
        Assert.Equal("nameserver 192.0.2.54\n", d.Stdout.Split("---\n")[0]);
        Assert.Matches(@"172\.\d+\.0\.1\tgw\n", d.Stdout.Split("---\n")[1]);
    }
}

/// <summary>A launcher that runs minidocker in a mount namespace of its own whose /etc/resolv.conf names only
/// 127.0.0.1: an aardvark-dns it starts can forward nowhere but loopback.</summary>
public sealed class LoopbackResolvers : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "mdk-resolv-" + Guid.NewGuid().ToString("N")[..8]);

    public LoopbackResolvers()
    {
        Directory.CreateDirectory(_dir);
        File.WriteAllText(Path.Combine(_dir, "resolv.conf"), "nameserver 127.0.0.1\n");
        Launcher = Path.Combine(_dir, "launch");
        File.WriteAllText(Launcher, "#!/bin/sh\nexec unshare --mount --propagation private sh -c " +
            "'mount --bind \"$0\" /etc/resolv.conf && exec \"$@\"' " + Path.Combine(_dir, "resolv.conf") + " \"$@\"\n");
        File.SetUnixFileMode(Launcher, (UnixFileMode)0x1ED);
    }

    public string Launcher { get; }

    public void Dispose() => Directory.Delete(_dir, recursive: true);
}
