using System.Net;
using System.Text.RegularExpressions;
using MiniDocker.Netlink;

namespace MiniDocker.Network.Topology;

/// <summary>
/// Reads a network's live topology from the kernel: links, addresses and routes by rtnetlink (each container's
/// through its /proc/PID/ns/net), the firewall's rules with their counters (iptables-save -c, nft list table) and
/// conntrack. The state files only say what to look for; whatever the kernel does not confirm is a problem.
/// </summary>
public static partial class TopologyReader
{
    public static TopologyView Read(NetworkRecord network, IReadOnlyList<AttachedContainer> attached)
    {
        var problems = new List<string>();
        IReadOnlyList<LinkInfo> links;
        IReadOnlyList<AddressInfo> addresses;
        IReadOnlyList<RouteInfo> routes;
        using (var rtnl = RtNetlink.Open())
        {
            links = rtnl.ListLinks();
            addresses = rtnl.ListAddresses();
            routes = rtnl.ListRoutes();
        }
        var views = links.ToDictionary(l => l.Index, l => View(l, links, addresses));
        LinkView? bridge = views.Values.FirstOrDefault(v => v.Name == network.Bridge);
        if (bridge is null)
            problems.Add($"bridge {network.Bridge} does not exist");
        else
        {
            if (!bridge.AdminUp) problems.Add($"bridge {network.Bridge} is down");
            string gateway = $"{network.Gateway}/{network.Subnet.Prefix}";
            if (!bridge.Addresses.Contains(gateway))
                problems.Add($"gateway {gateway} is not on bridge {network.Bridge} (the kernel has: {Join(bridge.Addresses)})");
        }
        RouteInfo? defaultRoute = routes.FirstOrDefault(r => r.Destination is null && r.OutputLinkIndex != 0);
        LinkView? uplink = defaultRoute is null ? null : views.GetValueOrDefault(defaultRoute.OutputLinkIndex);

        var rules = ReadRules();
        string bridgeWord = network.Bridge;
        string subnet = network.Subnet.ToString();
        var networkRules = rules.Where(r => Mentions(r.Text, bridgeWord) || r.Text.Contains(subnet, StringComparison.Ordinal)).ToList();
        if (!networkRules.Any(r => r.IsMasquerade && r.Text.Contains(subnet, StringComparison.Ordinal)))
            problems.Add($"no MASQUERADE rule for {subnet}: containers cannot reach beyond the host");
        var conntrack = ReadConntrack();

        var containers = new List<ContainerView>();
        foreach (var a in attached)
        {
            var e = a.Endpoint;
            var cproblems = new List<string>();
            LinkView? hostEnd = views.Values.FirstOrDefault(v => v.Name == e.HostVeth);
            if (hostEnd is null) cproblems.Add($"host veth {e.HostVeth} does not exist");
            else
            {
                if (!hostEnd.Passes) cproblems.Add($"host veth {e.HostVeth} is {hostEnd.State}");
                if (hostEnd.Master != network.Bridge) cproblems.Add($"host veth {e.HostVeth} is not a port of {network.Bridge} (master: {hostEnd.Master ?? "none"})");
            }
            LinkView? eth0 = null;
            var croutes = new List<string>();
            string netns = $"/proc/{a.Pid}/ns/net";
            if (a.Pid <= 0 || !File.Exists(netns))
                cproblems.Add("not running: no network namespace to read");
            else
            {
                try
                {
                    (eth0, croutes) = RtNetlink.InNamespace(netns, r =>
                    {
                        var l = r.ListLinks();
                        var ad = r.ListAddresses();
                        var ro = r.ListRoutes();
                        var byIndex = l.ToDictionary(x => x.Index, x => x.Name);
                        var inside = l.FirstOrDefault(x => x.Name == e.ContainerIfName) is { } found ? View(found, l, ad) : null;
                        var text = ro.Select(x => FormatRoute(x, byIndex)).ToList();
                        return (inside, text);
                    });
                }
                catch (Exception ex) when (ex is NetlinkException or IOException or UnauthorizedAccessException)
                {
                    cproblems.Add($"cannot read its network namespace: {ex.Message}");
                }
                string want = $"{e.IP}/{network.Subnet.Prefix}";
                if (eth0 is null) cproblems.Add($"{e.ContainerIfName} does not exist in its namespace");
                else
                {
                    if (!eth0.Passes) cproblems.Add($"{e.ContainerIfName} is {eth0.State}");
                    if (!eth0.Addresses.Contains(want))
                        cproblems.Add($"state says {want} on {e.ContainerIfName}, the kernel has {Join(eth0.Addresses)}");
                }
                if (!croutes.Any(r => r.StartsWith("default", StringComparison.Ordinal)))
                    cproblems.Add("no default route in its namespace");
            }
            string ip = e.IP.ToString();
            var portRules = rules.Where(r => Regex.IsMatch(r.Text, $@"(^|[^0-9.]){Regex.Escape(ip)}([/: ]|$)")).ToList();
            foreach (var port in e.Ports)
            {
                string target = $"{ip}:{port.ContainerPort}";
                if (!portRules.Any(r => r.IsDnat && r.Text.Contains(target, StringComparison.Ordinal) &&
                                        Regex.IsMatch(r.Text, $@"dport {port.HostPort}\b")))
                    cproblems.Add($"port {port}: no DNAT rule to {target}");
            }
            var flows = conntrack.Where(l => Regex.IsMatch(l, $@"(src|dst)={Regex.Escape(ip)}\b")).ToList();
            containers.Add(new ContainerView(e.ContainerId, a.Name, a.Pid, e.HostVeth, e.ContainerIfName, e.IP,
                network.Subnet.Prefix, hostEnd, eth0, croutes, e.Ports, portRules, flows, cproblems));
        }
        return new TopologyView(network.Name, subnet, network.Gateway, network.Bridge, bridge, uplink, defaultRoute?.Gateway,
            networkRules, containers, problems);
    }

    private static string Join(IReadOnlyList<string> items) => items.Count == 0 ? "none" : string.Join(", ", items);

    private static bool Mentions(string text, string word) =>
        Regex.IsMatch(text, $@"(^|[\s""]){Regex.Escape(word)}([\s""]|$)");

    private static LinkView View(LinkInfo l, IReadOnlyList<LinkInfo> all, IReadOnlyList<AddressInfo> addresses) =>
        new(l.Name, l.Index, l.IsUp, l.OperState, l.Kind,
            l.MasterIndex == 0 ? null : all.FirstOrDefault(m => m.Index == l.MasterIndex)?.Name,
            addresses.Where(a => a.LinkIndex == l.Index).Select(a => $"{a.Address}/{a.PrefixLength}").ToList());

    public static string FormatRoute(RouteInfo r, IReadOnlyDictionary<int, string> linkNames)
    {
        string destination = r.Destination is null ? "default" : $"{r.Destination}/{r.PrefixLength}";
        string via = r.Gateway is null ? "" : $" via {r.Gateway}";
        string dev = linkNames.TryGetValue(r.OutputLinkIndex, out var name) ? $" dev {name}" : "";
        return destination + via + dev;
    }

    /// <summary>Every rule of the nat, filter and raw tables (iptables-save -c, which also shows iptables-nft's), and
    /// of nftables' own minidocker table when it exists.</summary>
    public static IReadOnlyList<RuleView> ReadRules()
    {
        var rules = new List<RuleView>();
        var tools = new ToolRunner(null);
        if (ToolRunner.Find("iptables-save") is not null)
        {
            var (code, output, _) = tools.RunUnchecked("iptables-save", ["-c"]);
            if (code == 0) rules.AddRange(ParseIptablesSave(output));
        }
        if (ToolRunner.Find("nft") is not null)
        {
            var (code, output, _) = tools.RunUnchecked("nft", ["list", "table", "ip", NftablesFirewall.Table]);
            if (code == 0) rules.AddRange(ParseNftTable(output, NftablesFirewall.Table));
        }
        return rules;
    }

    /// <summary>"[PKTS:BYTES] -A CHAIN SPEC" lines of iptables-save -c, per "*TABLE" section.</summary>
    public static IEnumerable<RuleView> ParseIptablesSave(string saved)
    {
        string table = "";
        foreach (string raw in saved.Split('\n'))
        {
            string line = raw.Trim();
            if (line.StartsWith('*')) { table = line[1..]; continue; }
            var m = IptablesCountedRule().Match(line);
            if (m.Success)
                yield return new RuleView("iptables", table, m.Groups[3].Value, long.Parse(m.Groups[1].Value), long.Parse(m.Groups[2].Value), m.Groups[4].Value);
        }
    }

    /// <summary>Rules of "nft list table" output, each under its "chain NAME {" header, with "counter packets N bytes M".</summary>
    public static IEnumerable<RuleView> ParseNftTable(string listing, string table)
    {
        string chain = "";
        foreach (string raw in listing.Split('\n'))
        {
            string line = raw.Trim();
            var header = NftChainHeader().Match(line);
            if (header.Success) { chain = header.Groups[1].Value; continue; }
            if (line.Length == 0 || line == "}" || line.StartsWith("type ", StringComparison.Ordinal) || line.StartsWith("policy ", StringComparison.Ordinal) || chain.Length == 0)
                continue;
            var counter = NftCounter().Match(line);
            yield return new RuleView("nft", table, chain,
                counter.Success ? long.Parse(counter.Groups[1].Value) : -1, counter.Success ? long.Parse(counter.Groups[2].Value) : -1, line);
        }
    }

    /// <summary>conntrack -L lines (empty when the tool is missing).</summary>
    public static IReadOnlyList<string> ReadConntrack()
    {
        if (ToolRunner.Find("conntrack") is null) return [];
        var (code, output, _) = new ToolRunner(null).RunUnchecked("conntrack", ["-L"]);
        return code == 0 ? output.Split('\n', StringSplitOptions.RemoveEmptyEntries) : [];
    }

    [GeneratedRegex(@"^\[(\d+):(\d+)\] -A (\S+) (.*)$")]
    private static partial Regex IptablesCountedRule();

    [GeneratedRegex(@"^chain (\S+) \{$")]
    private static partial Regex NftChainHeader();

    [GeneratedRegex(@"counter packets (\d+) bytes (\d+)")]
    private static partial Regex NftCounter();
}
