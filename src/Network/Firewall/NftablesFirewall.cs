using System.Text;
using System.Text.RegularExpressions;

namespace MiniDocker.Network;

/// <summary>
/// nftables backend: everything lives in one table of our own, "table ip minidocker", with the same chain layout
/// as the iptables backend; every change is one "nft -f -" script, which nft applies as a single transaction.
/// Caveat of separate tables: an accept here does not override a drop in another table on the same hook (each
/// base chain gives its own verdict), so a host whose iptables FORWARD policy is DROP still drops forwarded
/// traffic; our drops (isolation) always take effect.
/// </summary>
internal sealed partial class NftablesFirewall : TaggedRuleFirewall
{
    public const string Table = "minidocker";
    public const string DnatChain = "MINIDOCKER";
    public const string PostroutingChain = "MINIDOCKER-POSTROUTING";
    public const string ForwardChain = "MINIDOCKER-FORWARD";
    public const string Isolation1Chain = "MINIDOCKER-ISOLATION-1";
    public const string Isolation2Chain = "MINIDOCKER-ISOLATION-2";
    /// <summary>The equivalent of iptables' raw PREROUTING: before conntrack and DNAT.</summary>
    public const string RawPreroutingChain = "raw-prerouting";

    /// <summary>Base chains hook into the kernel; priorities are those of iptables' raw, nat and filter tables.</summary>
    private static readonly Dictionary<string, string> BaseChainSpecs = new()
    {
        ["prerouting"] = "type nat hook prerouting priority dstnat; policy accept;",
        ["output"] = "type nat hook output priority -100; policy accept;",
        ["postrouting"] = "type nat hook postrouting priority srcnat; policy accept;",
        ["forward"] = "type filter hook forward priority filter; policy accept;",
        [RawPreroutingChain] = "type filter hook prerouting priority raw; policy accept;",
    };

    public NftablesFirewall(string? netnsPath, string scope = "", bool ipv6 = false) : base(netnsPath, scope)
    {
        _ipv6 = ipv6;
        _family = ipv6 ? "ip6" : "ip";
        _loopback = ipv6 ? "::1" : "127.0.0.0/8";
    }

    // The IPv6 side is "table ip6 minidocker", the same chains and tags: an inet table would share one table between
    // both families, but then a flush of either side and the IPv4 rules' texts would change for every host.
    private readonly bool _ipv6;
    private readonly string _family, _loopback;

    protected override bool IPv6 => _ipv6;

    public override string Name => "nftables";

    protected override IReadOnlyList<(string Table, string Chain)> OwnChains { get; } =
    [
        (Table, "prerouting"), (Table, "output"), (Table, "postrouting"), (Table, "forward"), (Table, RawPreroutingChain),
        (Table, DnatChain), (Table, PostroutingChain), (Table, ForwardChain), (Table, Isolation1Chain), (Table, Isolation2Chain),
    ];

    // Rule texts are written exactly as "nft list" prints them (e.g. "ct state established,related" in that
    // order), because Sync compares them with the listed rules to find what is missing. The iptables backend
    // explains the purpose of each rule.

    public override bool IsHookedIn() =>
        Tools.RunUnchecked("nft", ["list", "chain", _family, Table, "prerouting"]).Output.Contains(BaseTag, StringComparison.Ordinal);

    protected override IEnumerable<DesiredRule> BaseRules()
    {
        string comment = Comment(BaseTag);
        // Not for 127.0.0.0/8 arriving from outside: see IptablesFirewall.BaseRules.
        yield return new DesiredRule(Table, "prerouting", BaseTag, $"{_family} daddr != {_loopback} fib daddr type local jump {DnatChain} {comment}");
        // Not ::1 on IPv6: see IptablesFirewall.BaseRules (the port relay answers it).
        yield return new DesiredRule(Table, "output", BaseTag, _ipv6
            ? $"{_family} daddr != {_loopback} fib daddr type local jump {DnatChain} {comment}"
            : $"fib daddr type local jump {DnatChain} {comment}");
        yield return new DesiredRule(Table, "postrouting", BaseTag, $"jump {PostroutingChain} {comment}");
        yield return new DesiredRule(Table, "forward", BaseTag, $"jump {ForwardChain} {comment}");
        yield return new DesiredRule(Table, ForwardChain, BaseTag, $"jump {Isolation1Chain} {comment}", First: true);
    }

    protected override IEnumerable<DesiredRule> NetworkRules(NetworkRules n, string tag)
    {
        string comment = Comment(tag);
        string br = $"\"{n.Bridge}\"";
        if (n.Internal)
        {
            // See the iptables backend: drops both ways before any accept, no NAT.
            yield return new DesiredRule(Table, Isolation1Chain, tag, $"iifname {br} oifname != {br} drop {comment}");
            yield return new DesiredRule(Table, Isolation1Chain, tag, $"iifname != {br} oifname {br} drop {comment}");
            yield return new DesiredRule(Table, ForwardChain, tag, $"iifname {br} oifname {br} accept {comment}");
            if (!_ipv6) yield return new DesiredRule(Table, RawPreroutingChain, tag, $"iifname {br} ip daddr 127.0.0.0/8 drop {comment}", First: true);
            yield break;
        }
        // NAT66 for IPv6: see IptablesFirewall.NetworkRules.
        string subnet = _ipv6 ? n.Subnet6?.ToString() ?? throw new NetworkException($"network {n.Network} has no IPv6 subnet") : n.Subnet.ToString();
        yield return new DesiredRule(Table, PostroutingChain, tag, $"{_family} saddr {subnet} oifname != {br} masquerade {comment}");
        yield return new DesiredRule(Table, PostroutingChain, tag, $"oifname {br} fib saddr type local masquerade {comment}");
        yield return new DesiredRule(Table, ForwardChain, tag, $"oifname {br} ct state established,related accept {comment}");
        yield return new DesiredRule(Table, ForwardChain, tag, $"iifname {br} oifname != {br} accept {comment}");
        yield return new DesiredRule(Table, ForwardChain, tag, $"iifname {br} oifname {br} accept {comment}");
        yield return new DesiredRule(Table, Isolation1Chain, tag, $"iifname {br} oifname != {br} jump {Isolation2Chain} {comment}");
        yield return new DesiredRule(Table, Isolation2Chain, tag, $"oifname {br} drop {comment}");
        // Host loopback services are not for containers (CVE-2020-8558): see the iptables backend's raw rule.
        if (!_ipv6) yield return new DesiredRule(Table, RawPreroutingChain, tag, $"iifname {br} ip daddr 127.0.0.0/8 drop {comment}", First: true);
    }

    protected override IEnumerable<DesiredRule> MappingRules(ContainerPorts c, PortMapping m, string tag)
    {
        string comment = Comment(tag);
        string p = m.Protocol;
        string hostMatch = m.HostIp is null ? "" : $"ip daddr {m.HostIp} ";
        string destination = _ipv6 ? $"[{c.ContainerIp}]:{m.ContainerPort}" : $"{c.ContainerIp}:{m.ContainerPort}";
        yield return new DesiredRule(Table, DnatChain, tag,
            $"{hostMatch}{p} dport {m.HostPort} dnat to {destination} {comment}");
        yield return new DesiredRule(Table, PostroutingChain, tag,
            $"{_family} saddr {c.ContainerIp} {_family} daddr {c.ContainerIp} {p} dport {m.ContainerPort} masquerade {comment}");
        yield return new DesiredRule(Table, ForwardChain, tag,
            $"{_family} daddr {c.ContainerIp} oifname \"{c.Bridge}\" {p} dport {m.ContainerPort} accept {comment}");
    }

    protected override RuleSnapshot Read()
    {
        (int exitCode, string listing, string error) = Tools.RunUnchecked("nft", ["-a", "list", "table", _family, Table]);
        var chains = new HashSet<(string, string)>();
        var rules = new List<PresentRule>();
        if (exitCode != 0)
        {
            // Our table does not exist yet (first use, or someone deleted it): nothing of ours is present.
            // nft's own errors start with "Error:", unlike e.g. nsenter's "cannot open ...: No such file or directory".
            if (error.Contains("Error: No such file or directory", StringComparison.Ordinal))
                return new RuleSnapshot(chains, rules);
            throw ToolRunner.Failure("nft", error);
        }

        string? chain = null;
        foreach (string raw in listing.Split('\n'))
        {
            string line = raw.Trim();
            if (ChainHeaderRegex().Match(line) is { Success: true } header)
            {
                chain = header.Groups[1].Value;
                chains.Add((Table, chain));
            }
            else if (line == "}")
            {
                chain = null;
            }
            else if (chain is not null && RuleRegex().Match(line) is { Success: true } rule)
            {
                string text = Normalize(rule.Groups[1].Value);
                string tag = TagOf(text);
                if (tag.Length > 0)
                    rules.Add(new PresentRule(Table, chain, tag, text, rule.Groups[2].Value));
            }
        }
        return new RuleSnapshot(chains, rules);
    }

    protected override void Apply(RulePlan plan)
    {
        var script = new StringBuilder();
        if (plan.CreateChains.Count > 0)
            script.Append($"add table {_family} {Table}\n");
        foreach ((_, string chain) in plan.CreateChains)
        {
            script.Append($"add chain {_family} {Table} {chain}");
            if (BaseChainSpecs.TryGetValue(chain, out string? spec))
                script.Append($" {{ {spec} }}");
            script.Append('\n');
        }
        foreach (PresentRule rule in plan.Delete)
            script.Append($"delete rule {_family} {Table} {rule.Chain} handle {rule.DeleteRef}\n");
        foreach (DesiredRule rule in plan.Add)
            script.Append($"{(rule.First ? "insert" : "add")} rule {_family} {Table} {rule.Chain} {rule.Text}\n");
        // Every chain (and rule) of ours lives in our own table: dropping the chains means dropping the table.
        if (plan.DropChains.Count > 0)
            script.Append($"delete table {_family} {Table}\n");
        // One transaction for the whole script. A script that deletes returns at its commit, not at nft's exit,
        // which comes an RCU grace period later (see NfTablesCommitWatch).
        if (plan.Delete.Count + plan.DropChains.Count > 0)
            Tools.RunCommits("nft", ["-f", "-"], script.ToString(), commits: 1);
        else
            Tools.Run("nft", ["-f", "-"], script.ToString());
    }

    private static string Comment(string tag) => $"comment \"{tag}\"";

    private static string Normalize(string text) => string.Join(' ', text.Split(' ', StringSplitOptions.RemoveEmptyEntries));

    [GeneratedRegex(@"^chain (\S+) \{")]
    private static partial Regex ChainHeaderRegex();

    [GeneratedRegex(@"^(.*?)\s*# handle (\d+)$")]
    private static partial Regex RuleRegex();
}
