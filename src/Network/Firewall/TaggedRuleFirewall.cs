using System.Net;
using System.Net.Sockets;
using System.Text.RegularExpressions;
using MiniDocker.Linux;

namespace MiniDocker.Network;

/// <summary>A rule we want: <paramref name="Text"/> is in the backend's canonical form, the way its listing prints it.</summary>
/// <param name="First">Must be the first rule of its chain (inserted rather than appended), e.g. the jump into our
/// FORWARD chain, so that our isolation drops run before anyone else's accepts.</param>
internal sealed record DesiredRule(string Table, string Chain, string Tag, string Text, bool First = false);

/// <summary>A tagged rule found in the current ruleset. <paramref name="DeleteRef"/> is what the backend needs to delete
/// exactly this rule: the rule spec for iptables, the handle for nft.</summary>
internal sealed record PresentRule(string Table, string Chain, string Tag, string Text, string DeleteRef);

/// <summary>The current state of our part of the ruleset.</summary>
internal sealed record RuleSnapshot(IReadOnlySet<(string Table, string Chain)> Chains, IReadOnlyList<PresentRule> Rules);

/// <summary>Changes to apply in one atomic batch; empty when the ruleset is already as wanted.</summary>
internal sealed record RulePlan(
    IReadOnlyList<(string Table, string Chain)> CreateChains,
    IReadOnlyList<PresentRule> Delete,
    IReadOnlyList<DesiredRule> Add,
    IReadOnlyList<(string Table, string Chain)>? DeleteChains = null)
{
    /// <summary>Our chains to delete after the rule deletions (only when no network or container needs them).</summary>
    public IReadOnlyList<(string Table, string Chain)> DropChains => DeleteChains ?? [];
    public bool IsEmpty => CreateChains.Count == 0 && Delete.Count == 0 && Add.Count == 0 && DropChains.Count == 0;
}

/// <summary>
/// What both backends share: every operation reads the current ruleset, compares the rules of the tags it is
/// responsible for with the rules wanted for them, and applies the difference as one batch under a lock. This
/// makes every call idempotent, lets Reconcile repair any partial damage, and never touches a rule without one
/// of our tags.
/// </summary>
internal abstract partial class TaggedRuleFirewall : IFirewall
{
    public const string BaseTag = HostTags.Base;
    public const string NetworkTagPrefix = HostTags.NetworkPrefix;
    public const string ContainerTagPrefix = HostTags.ContainerPrefix;

    // One lock for every backend and namespace: it only serialises our own read-compare-apply cycles (two
    // concurrent "run"s must not both add the missing skeleton), which each take milliseconds.
    private const string LockPath = "/run/minidocker/firewall.lock";

    protected TaggedRuleFirewall(string? netnsPath, string scope)
    {
        if (scope.Any(c => !char.IsAsciiLetterOrDigit(c)))
            throw new ArgumentException($"invalid firewall scope '{scope}'", nameof(scope));
        Tools = new ToolRunner(netnsPath);
        _scope = scope;
        _scopePrefix = scope.Length == 0 ? "" : scope + ":";
    }

    private readonly string _scope;

    /// <summary>
    /// "" for the default state root, "SCOPE:" for another: network and container tags read
    /// minidocker:net:[SCOPE:]NAME and minidocker:ctr:[SCOPE:]ID12. Each root compares and sweeps only the tags of its
    /// own scope (two roots may both have a network called "bridge"); the skeleton (minidocker:base) is shared.
    /// </summary>
    private readonly string _scopePrefix;

    /// <summary>Whether a container tag is this root's: its scope prefix, and for the default root no scope at all.</summary>
    private bool IsOwnContainerTag(string tag) =>
        tag.StartsWith(ContainerTagPrefix + _scopePrefix, StringComparison.Ordinal)
        && !tag[(ContainerTagPrefix.Length + _scopePrefix.Length)..].Contains(':');

    /// <summary>Whether a network tag is this root's.</summary>
    private bool IsOwnNetworkTag(string tag) =>
        tag.StartsWith(NetworkTagPrefix, StringComparison.Ordinal) && HostTags.TryParse(tag, out string scope, out _) && scope == _scope;

    public abstract string Name { get; }

    protected ToolRunner Tools { get; }

    /// <summary>Our chains, in the order they must be created.</summary>
    protected abstract IReadOnlyList<(string Table, string Chain)> OwnChains { get; }

    protected abstract RuleSnapshot Read();

    protected abstract void Apply(RulePlan plan);

    protected abstract IEnumerable<DesiredRule> BaseRules();

    protected abstract IEnumerable<DesiredRule> NetworkRules(NetworkRules n, string tag);

    protected abstract IEnumerable<DesiredRule> MappingRules(ContainerPorts c, PortMapping mapping, string tag);

    public void EnsureNetwork(NetworkRules n) =>
        Sync(withBase: true, new Dictionary<string, IEnumerable<DesiredRule>> { [NetworkTag(n)] = NetworkRules(n, NetworkTag(n)) });

    public void RemoveNetwork(NetworkRules n) =>
        Sync(withBase: false, new Dictionary<string, IEnumerable<DesiredRule>> { [NetworkTag(n)] = [] });

    public void AppendContainer(ContainerPorts c)
    {
        var rules = ContainerRules(c).ToList();
        using FileLock _ = FileLock.Acquire(LockPath);
        // Our jump from nat prerouting goes with any flush of the nat table: if it is missing, fail so the caller
        // restores everything. It is looked for by listing that one chain, alongside the append (two processes, two
        // cores). Not with `-C` inside the iptables-restore batch: that made iptables-nft fetch every rule of the
        // table, so a publish cost more the more containers had published (6.5 ms with 200, 3.5 ms with none).
        Task<bool> hooked = Task.Run(IsHookedIn);
        Apply(new RulePlan([], [], rules));
        if (!hooked.GetAwaiter().GetResult())
            throw new NetworkException("minidocker's jump from nat prerouting is missing");
    }

    public abstract bool IsHookedIn();

    /// <summary>Whether <see cref="Apply"/> can delete a rule by its text (iptables' -D CHAIN SPEC), not only by a
    /// reference read from the ruleset.</summary>
    protected virtual bool DeletesBySpec => false;

    public void RemoveContainer(ContainerPorts c)
    {
        if (DeletesBySpec)
        {
            try
            {
                var rules = ContainerRules(c).Select(r => new PresentRule(r.Table, r.Chain, r.Tag, r.Text, r.Text)).ToList();
                using FileLock _ = FileLock.Acquire(LockPath);
                Apply(new RulePlan([], rules, []));
                return;
            }
            catch (NetworkException) { /* some were gone already (a flush, a reconcile), or the network is: find the rest by tag */ }
        }
        RemoveContainer(c.ContainerId);
    }

    public void RemoveContainer(string containerId) =>
        Sync(withBase: false, new Dictionary<string, IEnumerable<DesiredRule>> { [ContainerTag(containerId)] = [] });

    public void Reconcile(IReadOnlyList<NetworkRules> networks, IReadOnlyList<ContainerPorts> containers,
        bool removeUnlistedContainers = false, bool removeUnlistedNetworks = false)
    {
        var wanted = new Dictionary<string, IEnumerable<DesiredRule>>();
        foreach (NetworkRules n in networks)
            wanted[NetworkTag(n)] = NetworkRules(n, NetworkTag(n));
        foreach (ContainerPorts c in containers)
            wanted[ContainerTag(c.ContainerId)] = ContainerRules(c);
        Sync(withBase: true, wanted, removeUnlistedContainers, removeUnlistedNetworks);
    }

    public IReadOnlyList<string> TaggedScopes() =>
        Read().Rules
            .Select(r => HostTags.TryParse(r.Tag, out string scope, out _) ? scope : null)
            .OfType<string>()
            .Distinct()
            .Order(StringComparer.Ordinal)
            .ToList();

    public void RemoveScope(string scope)
    {
        // Under the lock, from one reading: exactly the network and container rules tagged with this scope.
        using FileLock held = FileLock.Acquire(LockPath);
        RuleSnapshot snapshot = Read();
        var delete = snapshot.Rules
            .Where(r => HostTags.TryParse(r.Tag, out string s, out _) && s == scope)
            .ToList();
        if (delete.Count > 0)
            Apply(new RulePlan([], delete, []));
    }

    public void RemoveIfUnused()
    {
        using FileLock _ = FileLock.Acquire(LockPath);
        RuleSnapshot snapshot = Read();
        if (snapshot.Rules.Any(r => r.Tag != BaseTag))
            return;
        var chains = OwnChains.Where(snapshot.Chains.Contains).Reverse().ToList();
        var plan = new RulePlan([], snapshot.Rules.ToList(), [], chains);
        if (!plan.IsEmpty)
            Apply(plan);
    }

    public IReadOnlyList<string> TaggedContainers() =>
        Read().Rules
            .Where(r => IsOwnContainerTag(r.Tag))
            .Select(r => r.Tag[(ContainerTagPrefix.Length + _scopePrefix.Length)..])
            .Distinct()
            .Order(StringComparer.Ordinal)
            .ToList();

    /// <summary>The IPv6 side of a dual-stack firewall (ip6tables, nftables ip6): network rules use the IPv6 subnet,
    /// container rules the container's IPv6 address, and only mappings on all host addresses apply (a host IP given
    /// with -p is IPv4).</summary>
    protected virtual bool IPv6 => false;

    private IEnumerable<DesiredRule> ContainerRules(ContainerPorts c)
    {
        string tag = ContainerTag(c.ContainerId);
        ValidateInterface(c.Bridge);
        IPAddress ip = IPv6
            ? c.ContainerIp6 ?? throw new NetworkException($"container {c.ContainerId} has no IPv6 address")
            : c.ContainerIp;
        var family = IPv6 ? AddressFamily.InterNetworkV6 : AddressFamily.InterNetwork;
        if (ip.AddressFamily != family)
            throw new NetworkException($"container {c.ContainerId}: address {ip} is not {(IPv6 ? "IPv6" : "IPv4")}");
        foreach (PortMapping mapping in c.Ports)
        {
            if (mapping.HostPort is < 1 or > 65535 || mapping.ContainerPort is < 1 or > 65535)
                throw new NetworkException(
                    $"container {c.ContainerId}: mapping {mapping} needs host and container ports 1-65535 (allocate host ports first)");
            if (mapping.Protocol is not ("tcp" or "udp"))
                throw new NetworkException($"unknown protocol '{mapping.Protocol}'");
            if (mapping.HostIp is { AddressFamily: not AddressFamily.InterNetwork })
                throw new NetworkException($"invalid host IP '{mapping.HostIp}': only IPv4 is supported");
        }
        var mappings = IPv6 ? c.Ports.Where(m => m.HostIp is null) : c.Ports;
        var target = c with { ContainerIp = ip };
        // Two mappings to the same container port produce identical hairpin and accept rules; keep one of each.
        return mappings.SelectMany(m => MappingRules(target, m, tag)).Distinct().ToList();
    }

    private void Sync(bool withBase, Dictionary<string, IEnumerable<DesiredRule>> wantedByTag, bool removeUnlistedContainers = false,
        bool removeUnlistedNetworks = false)
    {
        // Materialise (and so validate) everything before taking the lock or reading the ruleset.
        Dictionary<string, List<DesiredRule>> wanted = wantedByTag.ToDictionary(w => w.Key, w => w.Value.ToList());
        if (withBase)
            wanted[BaseTag] = BaseRules().ToList();

        using FileLock _ = FileLock.Acquire(LockPath);
        RuleSnapshot snapshot = Read();
        if (removeUnlistedContainers)
        {
            foreach (string tag in snapshot.Rules.Select(r => r.Tag).Where(IsOwnContainerTag))
                wanted.TryAdd(tag, []);
        }
        if (removeUnlistedNetworks)
        {
            foreach (string tag in snapshot.Rules.Select(r => r.Tag).Where(IsOwnNetworkTag))
                wanted.TryAdd(tag, []);
        }

        var createChains = new List<(string, string)>();
        if (withBase)
            createChains.AddRange(OwnChains.Where(c => !snapshot.Chains.Contains(c)));

        var delete = new List<PresentRule>();
        var add = new List<DesiredRule>();
        foreach ((string tag, List<DesiredRule> rules) in wanted)
        {
            // Compare as multisets of (table, chain, text): a duplicated rule is deleted once, a missing one added.
            var missing = rules.ToList();
            foreach (PresentRule present in snapshot.Rules.Where(r => r.Tag == tag))
            {
                int index = missing.FindIndex(d => d.Table == present.Table && d.Chain == present.Chain && d.Text == present.Text);
                if (index >= 0)
                    missing.RemoveAt(index);
                else
                    delete.Add(present);
            }
            add.AddRange(missing);
        }

        var plan = new RulePlan(createChains, delete, add);
        if (!plan.IsEmpty)
            Apply(plan);
    }

    protected string NetworkTag(NetworkRules n)
    {
        NameRules.ValidateNetworkName(n.Network);
        ValidateInterface(n.Bridge);
        return HostTags.Network(_scope, n.Network);
    }

    /// <summary>The first 12 characters of the id, like Docker's short ids; the id itself is validated so it can go into a script.</summary>
    protected string ContainerTag(string containerId)
    {
        NameRules.ValidateContainerId(containerId);
        return HostTags.Container(_scope, containerId);
    }

    /// <summary>The minidocker tag in a listed rule's comment, or "" for a rule that is not ours.</summary>
    protected static string TagOf(string ruleText) =>
        TagRegex().Match(ruleText) is { Success: true } match ? match.Groups[1].Value : "";

    [GeneratedRegex(@"comment ""?(minidocker:[a-zA-Z0-9_.:-]+)")]
    private static partial Regex TagRegex();

    private static void ValidateInterface(string name)
    {
        if (!InterfaceNames.IsValid(name))
            throw new NetworkException($"invalid bridge name '{name}': must be 1-{InterfaceNames.MaxLength} bytes of [a-zA-Z0-9_.-]");
    }
}
