using System.Text;

namespace MiniDocker.Network;

/// <summary>
/// iptables backend: chains of our own in the nat and filter tables (the same layout as Docker's DOCKER chains),
/// jumped to from the built-in chains. Every change is one "iptables-restore --noflush" batch, which the kernel
/// applies per table atomically, instead of one iptables process (and one full ruleset swap) per rule.
/// </summary>
internal sealed class IptablesFirewall : TaggedRuleFirewall
{
    public const string Nat = "nat";
    public const string Filter = "filter";
    public const string Raw = "raw";
    public const string DnatChain = "MINIDOCKER";
    public const string PostroutingChain = "MINIDOCKER-POSTROUTING";
    public const string ForwardChain = "MINIDOCKER-FORWARD";
    public const string Isolation1Chain = "MINIDOCKER-ISOLATION-1";
    public const string Isolation2Chain = "MINIDOCKER-ISOLATION-2";

    public IptablesFirewall(string? netnsPath, string scope = "", bool ipv6 = false) : base(netnsPath, scope)
    {
        _ipv6 = ipv6;
        _tool = ipv6 ? "ip6tables" : "iptables";
        _loopback = ipv6 ? "::1/128" : "127.0.0.0/8";
        _host = ipv6 ? "/128" : "/32";
    }

    // The IPv6 side is the same layout in ip6tables (as Docker's): its own tables, the same chain names and tags.
    private readonly bool _ipv6;
    private readonly string _tool, _loopback, _host;

    protected override bool IPv6 => _ipv6;

    public override string Name => "iptables";

    protected override IReadOnlyList<(string Table, string Chain)> OwnChains { get; } =
    [
        (Nat, DnatChain), (Nat, PostroutingChain),
        (Filter, ForwardChain), (Filter, Isolation1Chain), (Filter, Isolation2Chain),
    ];

    // Rule texts below are written exactly as iptables-save prints them (option order, "-m tcp" after "-p tcp",
    // "/32" on single addresses), because Sync compares them with the saved rules to find what is missing.

    public override bool IsHookedIn() =>
        Tools.RunUnchecked(_tool, ["-t", Nat, "-S", "PREROUTING"]).Output.Contains(BaseTag, StringComparison.Ordinal);

    protected override bool DeletesBySpec => true;

    protected override IEnumerable<DesiredRule> BaseRules()
    {
        string comment = Comment(BaseTag);
        // "--dst-type LOCAL" covers every address of the host, so a mapping without a host IP answers on all of them.
        // Not for 127.0.0.0/8: a packet arriving from outside (a LAN host handing the host's MAC a packet for 127.0.0.1)
        // would be DNAT'd to a container before routing drops it as martian, so a port published on 127.0.0.1 only would
        // answer the LAN (Docker 28 closed the same hole). The host's own 127.0.0.1 connections go through OUTPUT.
        yield return new DesiredRule(Nat, "PREROUTING", BaseTag, $"! -d {_loopback} -m addrtype --dst-type LOCAL {comment} -j {DnatChain}");
        // OUTPUT too, so the host itself (including 127.0.0.1, see the --src-type LOCAL rule) reaches published ports.
        // Not ::1 on IPv6: a packet from ::1 may never leave loopback (no route_localnet), so DNAT would drop it;
        // [::1]:PORT is answered by the port relay (PortProxy) instead.
        yield return new DesiredRule(Nat, "OUTPUT", BaseTag, _ipv6
            ? $"! -d {_loopback} -m addrtype --dst-type LOCAL {comment} -j {DnatChain}"
            : $"-m addrtype --dst-type LOCAL {comment} -j {DnatChain}");
        yield return new DesiredRule(Nat, "POSTROUTING", BaseTag, $"{comment} -j {PostroutingChain}");
        // First in FORWARD: a distribution's or an admin's REJECT/DROP further down must not hide our accepts.
        yield return new DesiredRule(Filter, "FORWARD", BaseTag, $"{comment} -j {ForwardChain}", First: true);
        // Isolation is evaluated before any accept of ours, as in Docker's two-stage DOCKER-ISOLATION chains.
        yield return new DesiredRule(Filter, ForwardChain, BaseTag, $"{comment} -j {Isolation1Chain}", First: true);
    }

    protected override IEnumerable<DesiredRule> NetworkRules(NetworkRules n, string tag)
    {
        string comment = Comment(tag);
        string br = n.Bridge;
        if (n.Internal)
        {
            // As Docker's internal networks: drops first (the isolation chain runs before any accept of ours), in
            // both directions, and no NAT; only container to container on the bridge passes.
            yield return new DesiredRule(Filter, Isolation1Chain, tag, $"-i {br} ! -o {br} {comment} -j DROP");
            yield return new DesiredRule(Filter, Isolation1Chain, tag, $"! -i {br} -o {br} {comment} -j DROP");
            yield return new DesiredRule(Filter, ForwardChain, tag, $"-i {br} -o {br} {comment} -j ACCEPT");
            if (!_ipv6) yield return new DesiredRule(Raw, "PREROUTING", tag, $"-d 127.0.0.0/8 -i {br} {comment} -j DROP", First: true);
            yield break;
        }
        // IPv6 goes out by NAT66, as Docker 27+ does with ip6tables: the container's ULA (fd00::/8) addresses are
        // not routable upstream, and routed IPv6 would need the upstream router to route the subnet to this host,
        // which a single host cannot arrange. MASQUERADE to the host's address keeps "run and it reaches out" true.
        string subnet = _ipv6 ? n.Subnet6?.ToString() ?? throw new NetworkException($"network {n.Network} has no IPv6 subnet") : n.Subnet.ToString();
        yield return new DesiredRule(Nat, PostroutingChain, tag, $"-s {subnet} ! -o {br} {comment} -j MASQUERADE");
        // Published ports work for connections from the host itself, 127.0.0.1:HOSTPORT included, without a
        // userland proxy process per port: the bridge gets route_localnet=1 so a packet from 127.0.0.1 may be
        // routed out of it after DNAT, and this rule rewrites such a local source to the bridge address so the
        // container can answer (it would drop a 127.0.0.1 source as martian). Docker with userland-proxy=false
        // does the same.
        yield return new DesiredRule(Nat, PostroutingChain, tag, $"-o {br} -m addrtype --src-type LOCAL {comment} -j MASQUERADE");
        yield return new DesiredRule(Filter, ForwardChain, tag, $"-o {br} -m conntrack --ctstate RELATED,ESTABLISHED {comment} -j ACCEPT");
        yield return new DesiredRule(Filter, ForwardChain, tag, $"-i {br} ! -o {br} {comment} -j ACCEPT");
        // Container to container on the same bridge only passes FORWARD when br_netfilter is loaded.
        yield return new DesiredRule(Filter, ForwardChain, tag, $"-i {br} -o {br} {comment} -j ACCEPT");
        yield return new DesiredRule(Filter, Isolation1Chain, tag, $"-i {br} ! -o {br} {comment} -j {Isolation2Chain}");
        yield return new DesiredRule(Filter, Isolation2Chain, tag, $"-o {br} {comment} -j DROP");
        // route_localnet=1 (above) also lets a container with CAP_NET_RAW hand the gateway's MAC a packet for
        // 127.0.0.1 and reach the host's loopback-only services (CVE-2020-8558). Nothing legitimate arrives on the
        // bridge addressed to 127.0.0.0/8: replies to the host's 127.0.0.1 connections carry the gateway address
        // until conntrack un-NATs them, after the raw table. So, as Docker 28 does (in raw PREROUTING, per bridge),
        // drop it before conntrack and DNAT, rather than kube-proxy's filter INPUT rule: that one needs a conntrack
        // match (! RELATED,ESTABLISHED,DNAT) and exempts 127.0.0.0/8 sources, which a raw socket can forge (UDP
        // needs no answer). First in the chain: an ACCEPT someone else put into raw PREROUTING must not skip it.
        // IPv6 has no route_localnet, so nothing on the bridge can reach ::1: no raw rule there.
        if (!_ipv6) yield return new DesiredRule(Raw, "PREROUTING", tag, $"-d 127.0.0.0/8 -i {br} {comment} -j DROP", First: true);
    }

    protected override IEnumerable<DesiredRule> MappingRules(ContainerPorts c, PortMapping m, string tag)
    {
        string comment = Comment(tag);
        string p = m.Protocol;
        string hostMatch = m.HostIp is null ? "" : $"-d {m.HostIp}{_host} ";
        string destination = _ipv6 ? $"[{c.ContainerIp}]:{m.ContainerPort}" : $"{c.ContainerIp}:{m.ContainerPort}";
        yield return new DesiredRule(Nat, DnatChain, tag,
            $"{hostMatch}-p {p} -m {p} --dport {m.HostPort} {comment} -j DNAT --to-destination {destination}");
        // Hairpin: a container reaching its own published port gets DNATed back to itself; without rewriting the
        // source it would answer itself directly and the client would drop the unexpected reply.
        yield return new DesiredRule(Nat, PostroutingChain, tag,
            $"-s {c.ContainerIp}{_host} -d {c.ContainerIp}{_host} -p {p} -m {p} --dport {m.ContainerPort} {comment} -j MASQUERADE");
        // Lets published traffic in even when the FORWARD policy is DROP.
        yield return new DesiredRule(Filter, ForwardChain, tag,
            $"-d {c.ContainerIp}{_host} -o {c.Bridge} -p {p} -m {p} --dport {m.ContainerPort} {comment} -j ACCEPT");
    }

    protected override RuleSnapshot Read()
    {
        string saved = Tools.Run(_tool + "-save", []);
        var chains = new HashSet<(string, string)>();
        var rules = new List<PresentRule>();
        string table = "";
        foreach (string line in saved.Split('\n'))
        {
            if (line.StartsWith('*'))
            {
                table = line[1..].Trim();
            }
            else if (line.StartsWith(':'))
            {
                chains.Add((table, line[1..].Split(' ')[0]));
            }
            else if (line.StartsWith("-A ", StringComparison.Ordinal) && table is Nat or Filter or Raw)
            {
                int space = line.IndexOf(' ', 3);
                if (space < 0)
                    continue;
                string chain = line[3..space];
                string spec = line[(space + 1)..];
                string tag = TagOf(spec);
                if (tag.Length > 0)
                    rules.Add(new PresentRule(table, chain, tag, Normalize(spec), spec));
            }
        }
        return new RuleSnapshot(chains, rules);
    }

    protected override void Apply(RulePlan plan)
    {
        var script = new StringBuilder();
        int transactions = 0; // iptables-nft-restore commits each table's block (up to its COMMIT) on its own
        foreach (string table in new[] { Raw, Nat, Filter })
        {
            var creates = plan.CreateChains.Where(c => c.Table == table).ToList();
            var deletes = plan.Delete.Where(r => r.Table == table).ToList();
            var adds = plan.Add.Where(r => r.Table == table).ToList();
            var drops = plan.DropChains.Where(c => c.Table == table).ToList();
            if (creates.Count + deletes.Count + adds.Count + drops.Count == 0)
                continue;
            script.Append('*').Append(table).Append('\n');
            // Only chains that do not exist yet are declared: with --noflush, declaring an existing chain flushes it.
            foreach ((_, string chain) in creates)
                script.Append(':').Append(chain).Append(" - [0:0]\n");
            foreach (PresentRule rule in deletes)
                script.Append($"-D {rule.Chain} {rule.DeleteRef}\n");
            foreach (DesiredRule rule in adds)
                script.Append(rule.First ? $"-I {rule.Chain} 1 {rule.Text}\n" : $"-A {rule.Chain} {rule.Text}\n");
            foreach ((_, string chain) in drops)
                script.Append($"-X {chain}\n");
            script.Append("COMMIT\n");
            transactions++;
        }
        // A batch that deletes returns at its commits, not at the tool's exit, which comes an RCU grace period
        // later (see NfTablesCommitWatch); a batch that only adds exits at once anyway.
        if (plan.Delete.Count + plan.DropChains.Count > 0)
            Tools.RunCommits(_tool + "-restore", ["--noflush"], script.ToString(), transactions);
        else
            Tools.Run(_tool + "-restore", ["--noflush"], script.ToString());
    }

    private static string Comment(string tag) => $"-m comment --comment {tag}";

    /// <summary>
    /// iptables-save quotes comments ("minidocker:net:x") in some versions and not in others; compare without quotes.
    /// Our own texts never contain spaces inside a quoted value, so dropping the quotes loses nothing.
    /// </summary>
    private static string Normalize(string spec) =>
        string.Join(' ', spec.Replace("\"", "").Split(' ', StringSplitOptions.RemoveEmptyEntries));
}
