using System.Diagnostics;
using System.Net;

namespace MiniDocker.Network.Tests;

/// <summary>
/// One suite for both backends. Every test works in throwaway network namespaces of its own ("mdkfw-", "mdkfc-",
/// "mdkfl-" + random), so the host's ruleset is never read or changed; all traffic goes to addresses the test
/// assigned inside those namespaces.
/// </summary>
public sealed class FirewallTests
{
    public static TheoryData<string> Backends => new() { "iptables", "nftables" };

    private readonly string _suffix = Guid.NewGuid().ToString("N")[..6];
    private readonly int _octet = Random.Shared.Next(256);

    private string NetworkName => $"fwnet{_suffix}";
    private string Bridge => $"mdkb{_suffix}";
    private Subnet Subnet => Subnet.Parse($"10.213.{_octet}.0/24");
    private IPAddress Ip(int host) => IPAddress.Parse($"10.213.{_octet}.{host}");
    private NetworkRules Network => new(NetworkName, Bridge, Subnet);

    private static string NewContainerId() => Guid.NewGuid().ToString("N") + Guid.NewGuid().ToString("N");

    private ContainerPorts Container(string id, int host, params PortMapping[] ports) =>
        new(id, NetworkName, Bridge, Ip(host), ports);

    private static string CtrTag(string id) => "minidocker:ctr:" + id[..12];

    /// <summary>Our rules as the backend's own listing prints them, one trimmed line each, quotes dropped.</summary>
    private static List<string> Listing(string backend, Netns ns)
    {
        string text = backend == "iptables"
            ? ns.Run("iptables-save")
            : ns.Try("nft", "list", "table", "ip", "minidocker").Output;
        return text.Split('\n')
            .Select(l => l.Trim().Replace("\"", ""))
            .Where(l => l.Length > 0 && !l.StartsWith('#'))
            .ToList();
    }

    /// <summary>The whole ruleset with rule handles: a rule deleted and re-added, even identical, changes its handle.</summary>
    private static string Fingerprint(Netns ns) => ns.Run("nft", "-a", "list", "ruleset");

    /// <summary>Rules each network has: masquerade 2, forward 3, isolation 2, and the drop of traffic from its bridge
    /// to the host's 127.0.0.0/8 (CVE-2020-8558).</summary>
    private const int RulesPerNetwork = 8;

    private static int CountTagged(List<string> listing, string tag) =>
        listing.Count(l => l.Contains($"comment {tag}", StringComparison.Ordinal) || l.Contains($"--comment {tag} ", StringComparison.Ordinal));

    [Theory]
    [MemberData(nameof(Backends))]
    public void EnsureNetworkAndAppendContainer_WriteTheExpectedRules(string backend)
    {
        using var ns = new Netns("mdkfw-");
        IFirewall firewall = Firewalls.Create(backend, ns.Path);
        string id = NewContainerId();
        // Someone else's ACCEPT in raw PREROUTING (an early exit from that table) must not come before our drop.
        ns.Run("iptables", "-t", "raw", "-A", "PREROUTING", "-s", "203.0.113.10", "-j", "ACCEPT");

        firewall.EnsureNetwork(Network);
        firewall.AppendContainer(Container(id, 2,
            new PortMapping(null, 8080, 80, "tcp"),
            new PortMapping(IPAddress.Parse("198.51.100.1"), 9090, 80, "tcp"),
            new PortMapping(null, 5353, 53, "udp")));

        List<string> rules = Listing(backend, ns);
        string net = $"minidocker:net:{NetworkName}";
        string ctr = CtrTag(id);
        string[] expected = backend == "iptables"
            ?
            [
                "-A PREROUTING ! -d 127.0.0.0/8 -m addrtype --dst-type LOCAL -m comment --comment minidocker:base -j MINIDOCKER",
                "-A OUTPUT -m addrtype --dst-type LOCAL -m comment --comment minidocker:base -j MINIDOCKER",
                "-A POSTROUTING -m comment --comment minidocker:base -j MINIDOCKER-POSTROUTING",
                "-A FORWARD -m comment --comment minidocker:base -j MINIDOCKER-FORWARD",
                $"-A MINIDOCKER-POSTROUTING -s {Subnet} ! -o {Bridge} -m comment --comment {net} -j MASQUERADE",
                $"-A MINIDOCKER-POSTROUTING -o {Bridge} -m addrtype --src-type LOCAL -m comment --comment {net} -j MASQUERADE",
                $"-A MINIDOCKER-FORWARD -o {Bridge} -m conntrack --ctstate RELATED,ESTABLISHED -m comment --comment {net} -j ACCEPT",
                $"-A MINIDOCKER-FORWARD -i {Bridge} ! -o {Bridge} -m comment --comment {net} -j ACCEPT",
                $"-A MINIDOCKER-FORWARD -i {Bridge} -o {Bridge} -m comment --comment {net} -j ACCEPT",
                $"-A MINIDOCKER-ISOLATION-1 -i {Bridge} ! -o {Bridge} -m comment --comment {net} -j MINIDOCKER-ISOLATION-2",
                $"-A MINIDOCKER-ISOLATION-2 -o {Bridge} -m comment --comment {net} -j DROP",
                $"-A PREROUTING -d 127.0.0.0/8 -i {Bridge} -m comment --comment {net} -j DROP",
                $"-A MINIDOCKER -p tcp -m tcp --dport 8080 -m comment --comment {ctr} -j DNAT --to-destination {Ip(2)}:80",
                $"-A MINIDOCKER -d 198.51.100.1/32 -p tcp -m tcp --dport 9090 -m comment --comment {ctr} -j DNAT --to-destination {Ip(2)}:80",
                $"-A MINIDOCKER -p udp -m udp --dport 5353 -m comment --comment {ctr} -j DNAT --to-destination {Ip(2)}:53",
                $"-A MINIDOCKER-POSTROUTING -s {Ip(2)}/32 -d {Ip(2)}/32 -p tcp -m tcp --dport 80 -m comment --comment {ctr} -j MASQUERADE",
                $"-A MINIDOCKER-FORWARD -d {Ip(2)}/32 -o {Bridge} -p tcp -m tcp --dport 80 -m comment --comment {ctr} -j ACCEPT",
                $"-A MINIDOCKER-FORWARD -d {Ip(2)}/32 -o {Bridge} -p udp -m udp --dport 53 -m comment --comment {ctr} -j ACCEPT",
            ]
            :
            [
                "ip daddr != 127.0.0.0/8 fib daddr type local jump MINIDOCKER comment minidocker:base",
                "fib daddr type local jump MINIDOCKER comment minidocker:base",
                "jump MINIDOCKER-POSTROUTING comment minidocker:base",
                "jump MINIDOCKER-FORWARD comment minidocker:base",
                $"ip saddr {Subnet} oifname != {Bridge} masquerade comment {net}",
                $"oifname {Bridge} fib saddr type local masquerade comment {net}",
                $"oifname {Bridge} ct state established,related accept comment {net}",
                $"iifname {Bridge} oifname != {Bridge} accept comment {net}",
                $"iifname {Bridge} oifname {Bridge} accept comment {net}",
                $"iifname {Bridge} oifname != {Bridge} jump MINIDOCKER-ISOLATION-2 comment {net}",
                $"oifname {Bridge} drop comment {net}",
                $"iifname {Bridge} ip daddr 127.0.0.0/8 drop comment {net}",
                $"tcp dport 8080 dnat to {Ip(2)}:80 comment {ctr}",
                $"ip daddr 198.51.100.1 tcp dport 9090 dnat to {Ip(2)}:80 comment {ctr}",
                $"udp dport 5353 dnat to {Ip(2)}:53 comment {ctr}",
                $"ip saddr {Ip(2)} ip daddr {Ip(2)} tcp dport 80 masquerade comment {ctr}",
                $"ip daddr {Ip(2)} oifname {Bridge} tcp dport 80 accept comment {ctr}",
            ];
        Assert.All(expected, line => Assert.Contains(line, rules));
        Assert.Equal(RulesPerNetwork, CountTagged(rules, net));
        // Two mappings to container port 80 share one hairpin and one accept rule.
        Assert.Equal(3 + 2 + 2, CountTagged(rules, ctr));

        // Isolation runs before our accepts, and our chain before anything else in FORWARD.
        if (backend == "iptables")
        {
            Assert.Equal("-A FORWARD -m comment --comment minidocker:base -j MINIDOCKER-FORWARD", rules.First(l => l.StartsWith("-A FORWARD ")));
            Assert.Equal("-A MINIDOCKER-FORWARD -m comment --comment minidocker:base -j MINIDOCKER-ISOLATION-1",
                rules.First(l => l.StartsWith("-A MINIDOCKER-FORWARD ")));
            Assert.Equal($"-A PREROUTING -d 127.0.0.0/8 -i {Bridge} -m comment --comment {net} -j DROP",
                Listing(backend, ns).SkipWhile(l => l != "*raw").First(l => l.StartsWith("-A PREROUTING ")));
        }
        else
        {
            int chain = rules.IndexOf("chain MINIDOCKER-FORWARD {");
            Assert.Equal("jump MINIDOCKER-ISOLATION-1 comment minidocker:base", rules[chain + 1]);
            // A base chain of its own at raw priority: before conntrack and before the DNAT of nat prerouting.
            int raw = rules.IndexOf("chain raw-prerouting {");
            Assert.Equal("type filter hook prerouting priority raw; policy accept;", rules[raw + 1]);
        }
    }

    [Theory]
    [MemberData(nameof(Backends))]
    public void RemoveContainer_DeletesExactlyItsRules(string backend)
    {
        using var ns = new Netns("mdkfw-");
        // Rules that are not ours, in the same tables and built-in chains, must survive everything below.
        ns.Run("iptables", "-A", "FORWARD", "-s", "203.0.113.7", "-j", "DROP");
        ns.Run("iptables", "-t", "nat", "-A", "POSTROUTING", "-s", "203.0.113.8", "-j", "RETURN");
        ns.Run("nft", "add table ip mdkforeign; add chain ip mdkforeign c { type filter hook input priority 0; }; add rule ip mdkforeign c ip saddr 203.0.113.9 drop");
        string foreignBefore = ns.Run("nft", "list", "table", "ip", "mdkforeign");
        IFirewall firewall = Firewalls.Create(backend, ns.Path);
        string first = NewContainerId(), second = NewContainerId();
        firewall.EnsureNetwork(Network);
        firewall.AppendContainer(Container(first, 2, new PortMapping(null, 8080, 80, "tcp")));
        firewall.AppendContainer(Container(second, 3, new PortMapping(null, 8081, 80, "tcp"), new PortMapping(null, 8082, 81, "tcp")));
        List<string> before = Listing(backend, ns);

        Assert.Equal(new[] { first[..12], second[..12] }.Order(), firewall.TaggedContainers());

        firewall.RemoveContainer(first);

        List<string> after = Listing(backend, ns);
        Assert.Equal(0, CountTagged(after, CtrTag(first)));
        Assert.Equal(6, CountTagged(after, CtrTag(second)));
        Assert.Equal(before.Where(l => !l.Contains(CtrTag(first))), after);
        Assert.Equal([second[..12]], firewall.TaggedContainers());

        firewall.RemoveContainer(first); // idempotent
        firewall.RemoveContainer(second);
        firewall.RemoveNetwork(Network);

        List<string> emptied = Listing(backend, ns);
        Assert.DoesNotContain(emptied, l => l.Contains("minidocker:ctr:") || l.Contains("minidocker:net:"));
        Assert.Empty(firewall.TaggedContainers());
        string iptables = ns.Run("iptables-save");
        Assert.Contains("-A FORWARD -s 203.0.113.7/32 -j DROP", iptables);
        Assert.Contains("-A POSTROUTING -s 203.0.113.8/32 -j RETURN", iptables);
        Assert.Equal(foreignBefore, ns.Run("nft", "list", "table", "ip", "mdkforeign"));
    }

    [Theory]
    [MemberData(nameof(Backends))]
    public void RemoveNetwork_LeavesOtherNetworksAlone(string backend)
    {
        using var ns = new Netns("mdkfw-");
        IFirewall firewall = Firewalls.Create(backend, ns.Path);
        var other = new NetworkRules($"fwother{_suffix}", $"mdko{_suffix}", Subnet.Parse($"10.214.{_octet}.0/24"));
        firewall.EnsureNetwork(Network);
        firewall.EnsureNetwork(other);

        firewall.RemoveNetwork(Network);

        List<string> rules = Listing(backend, ns);
        Assert.Equal(0, CountTagged(rules, $"minidocker:net:{NetworkName}"));
        Assert.Equal(RulesPerNetwork, CountTagged(rules, $"minidocker:net:{other.Network}"));
    }

    [Theory]
    [MemberData(nameof(Backends))]
    public void RemoveIfUnused_KeepsTheSkeletonWhileANetworkNeedsIt_ThenLeavesNothing(string backend)
    {
        using var ns = new Netns("mdkfw-");
        IFirewall firewall = Firewalls.Create(backend, ns.Path);
        firewall.EnsureNetwork(Network);

        firewall.RemoveIfUnused();
        Assert.Equal(RulesPerNetwork, CountTagged(Listing(backend, ns), $"minidocker:net:{NetworkName}"));

        firewall.RemoveNetwork(Network);
        firewall.RemoveIfUnused();
        string everything = backend == "iptables" ? ns.Run("iptables-save") : ns.Run("nft", "list", "ruleset");
        Assert.DoesNotContain("minidocker", everything, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("MINIDOCKER", everything);
    }

    [Theory]
    [MemberData(nameof(Backends))]
    public void Reconcile_RestoresDeletedJumpsChainsAndRules_AndIsIdempotent(string backend)
    {
        using var ns = new Netns("mdkfw-");
        IFirewall firewall = Firewalls.Create(backend, ns.Path);
        string id = NewContainerId();
        ContainerPorts container = Container(id, 2, new PortMapping(null, 8080, 80, "tcp"));
        firewall.EnsureNetwork(Network);
        firewall.AppendContainer(container);
        List<string> intact = Listing(backend, ns);

        if (backend == "iptables")
        {
            // Someone deletes our FORWARD jump, flushes our DNAT chain and removes the POSTROUTING chain altogether.
            ns.Run("iptables", "-D", "FORWARD", "-m", "comment", "--comment", "minidocker:base", "-j", "MINIDOCKER-FORWARD");
            ns.Run("iptables", "-t", "nat", "-F", "MINIDOCKER");
            ns.Run("iptables", "-t", "nat", "-D", "POSTROUTING", "-m", "comment", "--comment", "minidocker:base", "-j", "MINIDOCKER-POSTROUTING");
            ns.Run("iptables", "-t", "nat", "-F", "MINIDOCKER-POSTROUTING");
            ns.Run("iptables", "-t", "nat", "-X", "MINIDOCKER-POSTROUTING");
            // ...and the drop that keeps containers off the host's loopback.
            ns.Run("iptables", "-t", "raw", "-D", "PREROUTING", "-d", "127.0.0.0/8", "-i", Bridge, "-m", "comment", "--comment",
                $"minidocker:net:{NetworkName}", "-j", "DROP");
        }
        else
        {
            ns.Run("nft", "flush", "chain", "ip", "minidocker", "MINIDOCKER");
            ns.Run("nft", "flush", "chain", "ip", "minidocker", "forward");
            ns.Run("nft", "delete", "chain", "ip", "minidocker", "raw-prerouting");
        }
        Assert.NotEqual(intact.Order(), Listing(backend, ns).Order());

        firewall.Reconcile([Network], [container]);

        Assert.Equal(intact.Order(), Listing(backend, ns).Order());
        if (backend == "iptables")
            Assert.Equal("-A FORWARD -m comment --comment minidocker:base -j MINIDOCKER-FORWARD",
                Listing(backend, ns).First(l => l.StartsWith("-A FORWARD ")));

        string fingerprint = Fingerprint(ns);
        firewall.Reconcile([Network], [container]);
        firewall.EnsureNetwork(Network);
        Assert.Equal(fingerprint, Fingerprint(ns));
    }

    [Theory]
    [MemberData(nameof(Backends))]
    public void Reconcile_RecreatesEverythingAfterTheWholeSkeletonIsGone(string backend)
    {
        using var ns = new Netns("mdkfw-");
        IFirewall firewall = Firewalls.Create(backend, ns.Path);
        ContainerPorts container = Container(NewContainerId(), 2, new PortMapping(null, 8080, 80, "tcp"));
        firewall.EnsureNetwork(Network);
        firewall.AppendContainer(container);
        List<string> intact = Listing(backend, ns);

        if (backend == "iptables")
        {
            // Only our own rules and chains are removed (the jumps first, then our chains).
            foreach (string line in ns.Run("iptables-save", "-t", "filter").Split('\n').Where(l => l.Contains("minidocker:")))
                ns.Run(["iptables", "-D", .. line[3..].Replace("\"", "").Split(' ', StringSplitOptions.RemoveEmptyEntries)]);
            foreach (string line in ns.Run("iptables-save", "-t", "nat").Split('\n').Where(l => l.Contains("minidocker:")))
                ns.Run(["iptables", "-t", "nat", "-D", .. line[3..].Replace("\"", "").Split(' ', StringSplitOptions.RemoveEmptyEntries)]);
            foreach (string line in ns.Run("iptables-save", "-t", "raw").Split('\n').Where(l => l.Contains("minidocker:")))
                ns.Run(["iptables", "-t", "raw", "-D", .. line[3..].Replace("\"", "").Split(' ', StringSplitOptions.RemoveEmptyEntries)]);
            foreach (string chain in new[] { "MINIDOCKER-FORWARD", "MINIDOCKER-ISOLATION-1", "MINIDOCKER-ISOLATION-2" })
                ns.Run("iptables", "-X", chain);
            foreach (string chain in new[] { "MINIDOCKER", "MINIDOCKER-POSTROUTING" })
                ns.Run("iptables", "-t", "nat", "-X", chain);
            Assert.DoesNotContain(Listing(backend, ns), l => l.Contains("MINIDOCKER"));
        }
        else
        {
            ns.Run("nft", "delete", "table", "ip", "minidocker");
            Assert.Empty(Listing(backend, ns));
        }

        firewall.Reconcile([Network], [container]);

        Assert.Equal(intact.Order(), Listing(backend, ns).Order());
    }

    [Theory]
    [MemberData(nameof(Backends))]
    public void AppendContainer_AddsTheSameRulesAsAddContainer_AndFailsWithoutOurChains(string backend)
    {
        using var ns = new Netns("mdkfw-");
        IFirewall firewall = Firewalls.Create(backend, ns.Path);
        string appended = NewContainerId(), added = NewContainerId();
        var ports = new PortMapping(null, 8080, 80, "tcp");
        Assert.Throws<NetworkException>(() => firewall.AppendContainer(Container(appended, 2, ports)));
        Assert.False(firewall.IsHookedIn());

        firewall.EnsureNetwork(Network);
        Assert.True(firewall.IsHookedIn());
        firewall.AppendContainer(Container(appended, 2, ports));
        firewall.AppendContainer(Container(added, 3, ports with { HostPort = 8081 }));
        List<string> rules = Listing(backend, ns);
        Assert.Equal(CountTagged(rules, CtrTag(added)), CountTagged(rules, CtrTag(appended)));
        Assert.True(CountTagged(rules, CtrTag(appended)) >= 3);

        // What a flush of the nat table does to us: the jump from PREROUTING is gone, and the next append says so.
        if (backend == "iptables")
            ns.Run("iptables", "-t", "nat", "-D", "PREROUTING", "!", "-d", "127.0.0.0/8", "-m", "addrtype", "--dst-type", "LOCAL", "-m", "comment", "--comment", "minidocker:base", "-j", "MINIDOCKER");
        else
            ns.Run("nft", "flush", "chain", "ip", "minidocker", "prerouting");
        Assert.False(firewall.IsHookedIn());
        Assert.Throws<NetworkException>(() => firewall.AppendContainer(Container(NewContainerId(), 4, ports with { HostPort = 8084 })));
    }

    [Theory]
    [MemberData(nameof(Backends))]
    public void RootsSideBySide_KeepTheirSameNamedNetworksAndTheirContainersApart(string backend)
    {
        using var ns = new Netns("mdkfw-");
        IFirewall first = Firewalls.Create(backend, ns.Path), second = Firewalls.Create(backend, ns.Path, scope: "0badcafe");
        var otherBridge = Network with { Bridge = $"mdkq{_suffix}", Subnet = Subnet.Parse($"10.215.{_octet}.0/24") };
        string mine = NewContainerId(), theirs = NewContainerId();
        first.EnsureNetwork(Network);
        second.EnsureNetwork(otherBridge); // same network name, another root
        first.AppendContainer(Container(mine, 2, new PortMapping(null, 8080, 80, "tcp")));
        second.AppendContainer(new ContainerPorts(theirs, otherBridge.Network, otherBridge.Bridge, IPAddress.Parse($"10.215.{_octet}.2"),
            [new PortMapping(null, 8081, 80, "tcp")]));

        // Each root re-asserts its own state and sweeps containers it does not list: the other's stay.
        first.Reconcile([Network], [], removeUnlistedContainers: true);
        second.EnsureNetwork(otherBridge);

        Assert.Empty(first.TaggedContainers());
        Assert.Equal([theirs[..12]], second.TaggedContainers());
        List<string> rules = Listing(backend, ns);
        Assert.Equal(RulesPerNetwork, CountTagged(rules, $"minidocker:net:{NetworkName}"));
        Assert.Equal(RulesPerNetwork, CountTagged(rules, $"minidocker:net:0badcafe:{NetworkName}"));
    }

    [Theory]
    [MemberData(nameof(Backends))]
    public void RemoveContainerByItsPorts_DeletesExactlyItsRules_EvenWhenSomeAreGone(string backend)
    {
        using var ns = new Netns("mdkfw-");
        IFirewall firewall = Firewalls.Create(backend, ns.Path);
        firewall.EnsureNetwork(Network);
        string gone = NewContainerId(), kept = NewContainerId(), partial = NewContainerId();
        var goneC = Container(gone, 2, new PortMapping(null, 8080, 80, "tcp"), new PortMapping(null, 8081, 81, "udp"));
        firewall.AppendContainer(goneC);
        firewall.AppendContainer(Container(kept, 3, new PortMapping(null, 8082, 80, "tcp")));
        var partialC = Container(partial, 4, new PortMapping(null, 8083, 80, "tcp"));
        firewall.AppendContainer(partialC);

        firewall.RemoveContainer(goneC);
        // A container whose rules were changed behind our back: the batch fails, the tag finds what is left.
        firewall.RemoveContainer(partialC with { Ports = [new PortMapping(null, 9999, 80, "tcp")] });

        Assert.Equal([kept[..12]], firewall.TaggedContainers());
        Assert.Equal(RulesPerNetwork, CountTagged(Listing(backend, ns), $"minidocker:net:{NetworkName}"));
    }

    [Theory]
    [MemberData(nameof(Backends))]
    public void Reconcile_CanRemoveUnlistedContainersInTheSameBatch(string backend)
    {
        using var ns = new Netns("mdkfw-");
        IFirewall firewall = Firewalls.Create(backend, ns.Path);
        firewall.EnsureNetwork(Network); // a container's rules go into the chains its network made
        string kept = NewContainerId(), orphan = NewContainerId(), added = NewContainerId();
        firewall.AppendContainer(Container(kept, 2, new PortMapping(null, 8080, 80, "tcp")));
        firewall.AppendContainer(Container(orphan, 3, new PortMapping(null, 8081, 80, "tcp")));

        firewall.Reconcile([Network], [Container(kept, 2, new PortMapping(null, 8080, 80, "tcp")),
            Container(added, 4, new PortMapping(null, 8082, 80, "udp"))], removeUnlistedContainers: true);

        Assert.Equal(new[] { kept[..12], added[..12] }.Order(), firewall.TaggedContainers());
    }

    [Theory]
    [MemberData(nameof(Backends))]
    public void Reconcile_LeavesUnlistedContainersForTheCallersSweep(string backend)
    {
        using var ns = new Netns("mdkfw-");
        IFirewall firewall = Firewalls.Create(backend, ns.Path);
        firewall.EnsureNetwork(Network); // a container's rules go into the chains its network made
        string kept = NewContainerId(), orphan = NewContainerId();
        firewall.AppendContainer(Container(kept, 2, new PortMapping(null, 8080, 80, "tcp")));
        firewall.AppendContainer(Container(orphan, 3, new PortMapping(null, 8081, 80, "tcp")));

        firewall.Reconcile([Network], [Container(kept, 2, new PortMapping(null, 8080, 80, "tcp"))]);

        Assert.Equal(new[] { kept[..12], orphan[..12] }.Order(), firewall.TaggedContainers());
        foreach (string tag in firewall.TaggedContainers().Where(t => t != kept[..12]))
            firewall.RemoveContainer(tag);
        Assert.Equal([kept[..12]], firewall.TaggedContainers());
    }

    [Theory]
    [MemberData(nameof(Backends))]
    public void InvalidInputIsRefusedBeforeAnythingIsWritten(string backend)
    {
        using var ns = new Netns("mdkfw-");
        IFirewall firewall = Firewalls.Create(backend, ns.Path);

        Assert.Equal($"container {new string('a', 64)}: mapping 0.0.0.0:0->80/tcp needs host and container ports 1-65535 (allocate host ports first)",
            Assert.Throws<NetworkException>(() => firewall.AppendContainer(Container(new string('a', 64), 2, new PortMapping(null, 0, 80, "tcp")))).Message);
        Assert.StartsWith("invalid container id 'x\"; drop'",
            Assert.Throws<NetworkException>(() => firewall.AppendContainer(Container("x\"; drop", 2, new PortMapping(null, 80, 80, "tcp")))).Message);
        Assert.StartsWith("invalid bridge name 'br 0'",
            Assert.Throws<NetworkException>(() => firewall.EnsureNetwork(Network with { Bridge = "br 0" })).Message);
        Assert.StartsWith("unknown protocol 'sctp'",
            Assert.Throws<NetworkException>(() => firewall.AppendContainer(Container(NewContainerId(), 2, new PortMapping(null, 80, 80, "sctp")))).Message);

        Assert.DoesNotContain(Listing(backend, ns), l => l.Contains("minidocker"));
    }

    [Theory]
    [MemberData(nameof(Backends))]
    public void ToolFailureIsOneLineNamingTheTool(string backend)
    {
        IFirewall firewall = Firewalls.Create(backend, $"/run/netns/mdkfw-missing-{_suffix}");

        var error = Assert.Throws<NetworkException>(() => firewall.EnsureNetwork(Network));

        Assert.StartsWith(backend == "iptables" ? "iptables-save failed: nsenter: " : "nft failed: nsenter: ", error.Message);
        Assert.Contains("No such file or directory", error.Message);
        Assert.DoesNotContain('\n', error.Message);
    }

    [Fact]
    public void Create_DetectsIptablesAndRejectsUnknownNames()
    {
        Assert.Equal("iptables", Firewalls.Create(null).Name);
        Assert.Equal("nftables", Firewalls.Create("nftables").Name);
        Assert.Equal("unknown firewall backend 'pf': use iptables or nftables",
            Assert.Throws<NetworkException>(() => Firewalls.Create("pf")).Message);
    }

    /// <summary>
    /// Real packets: namespace "host" with the bridge and the firewall, "ctr" behind a veth on the bridge running
    /// busybox httpd on port 80, and "client" joined to "host" by a veth on 198.51.100.0/30. After AppendContainer
    /// with 8080->80 the client gets the page via 198.51.100.1:8080, and so does the host itself via 127.0.0.1:8080
    /// (route_localnet + the local-source masquerade); after RemoveContainer both are refused again.
    /// </summary>
    [Theory]
    [MemberData(nameof(Backends))]
    public void PublishedPortIsReachableFromAnotherNamespace(string backend)
    {
        using var host = new Netns("mdkfw-");
        using var ctr = new Netns("mdkfc-");
        using var client = new Netns("mdkfl-");
        string webRoot = Path.Combine(Path.GetTempPath(), $"mdk-fwtest-{_suffix}");
        Process? server = null;
        try
        {
            string marker = $"hello from {_suffix}";
            Directory.CreateDirectory(webRoot);
            File.WriteAllText(Path.Combine(webRoot, "index.html"), marker);

            host.Run("ip", "link", "add", Bridge, "type", "bridge");
            host.Run("ip", "addr", "add", $"{Ip(1)}/24", "dev", Bridge);
            host.Run("ip", "link", "set", Bridge, "up");
            host.Run("ip", "link", "add", $"mdkh{_suffix}", "type", "veth", "peer", "name", "eth0", "netns", ctr.Name);
            host.Run("ip", "link", "set", $"mdkh{_suffix}", "master", Bridge, "up");
            ctr.Run("ip", "addr", "add", $"{Ip(2)}/24", "dev", "eth0");
            ctr.Run("ip", "link", "set", "eth0", "up");
            ctr.Run("ip", "route", "add", "default", "via", Ip(1).ToString());
            host.Run("ip", "link", "add", $"mdku{_suffix}", "type", "veth", "peer", "name", "eth0", "netns", client.Name);
            host.Run("ip", "addr", "add", "198.51.100.1/30", "dev", $"mdku{_suffix}");
            host.Run("ip", "link", "set", $"mdku{_suffix}", "up");
            client.Run("ip", "addr", "add", "198.51.100.2/30", "dev", "eth0");
            client.Run("ip", "link", "set", "eth0", "up");
            host.Run("sysctl", "-qw", "net.ipv4.ip_forward=1");
            host.Run("sysctl", "-qw", $"net.ipv4.conf.{Bridge}.route_localnet=1");
            if (backend == "iptables")
            {
                // Forwarding must work because of our accepts, not because of an ACCEPT policy. (An nft table cannot
                // rescue a drop from another table, so this is only meaningful for the iptables backend.)
                host.Run("iptables", "-P", "FORWARD", "DROP");
            }

            server = Process.Start(new ProcessStartInfo("ip", ["netns", "exec", ctr.Name, "busybox", "httpd", "-f", "-p", "80", "-h", webRoot])
            {
                UseShellExecute = false,
            })!;
            WaitUntil(() => ctr.Try("busybox", "wget", "-qO-", "http://127.0.0.1:80/").Output == marker, "httpd in the container namespace to answer");

            Assert.NotEqual(0, Fetch(client, "http://198.51.100.1:8080/").ExitCode);

            IFirewall firewall = Firewalls.Create(backend, host.Path);
            string id = NewContainerId();
            firewall.EnsureNetwork(Network);
            firewall.AppendContainer(Container(id, 2, new PortMapping(null, 8080, 80, "tcp")));

            Assert.Equal(marker, Fetch(client, "http://198.51.100.1:8080/").Output);
            Assert.Equal(marker, Fetch(host, "http://127.0.0.1:8080/").Output);
            Assert.Equal(marker, Fetch(host, "http://198.51.100.1:8080/").Output);

            firewall.RemoveContainer(id);

            Assert.NotEqual(0, Fetch(client, "http://198.51.100.1:8080/").ExitCode);
            Assert.NotEqual(0, Fetch(host, "http://127.0.0.1:8080/").ExitCode);
        }
        finally
        {
            if (server is not null)
            {
                if (!server.HasExited)
                    server.Kill(entireProcessTree: true);
                server.WaitForExit(5000);
                server.Dispose();
            }
            if (Directory.Exists(webRoot))
                Directory.Delete(webRoot, recursive: true);
        }
    }

    // busybox wget's own -T timeout crashes in this build; coreutils timeout bounds it instead.
    private static (int ExitCode, string Output, string Error) Fetch(Netns from, string url) =>
        from.Try("timeout", "3", "busybox", "wget", "-qO-", url);

    private static void WaitUntil(Func<bool> condition, string what)
    {
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (!condition())
        {
            if (DateTime.UtcNow > deadline)
                throw new TimeoutException($"timed out waiting for {what}");
            Thread.Sleep(50);
        }
    }
}
