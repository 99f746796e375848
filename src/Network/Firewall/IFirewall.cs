using System.Net;

namespace MiniDocker.Network;

/// <summary>What the firewall needs to know about a network: its bridge and subnet, and whether it is internal (no
/// traffic in or out of the bridge: no NAT, no forwarding to or from other interfaces).</summary>
/// <param name="Subnet6">its IPv6 subnet on a dual-stack network: the ip6tables / nftables ip6 side gets rules too.</param>
public sealed record NetworkRules(string Network, string Bridge, Subnet Subnet, bool Internal = false, Subnet6? Subnet6 = null);

/// <summary>A container's published ports on one network. Every mapping must have its host port chosen already.</summary>
public sealed record ContainerPorts(
    string ContainerId, string Network, string Bridge, IPAddress ContainerIp, IReadOnlyList<PortMapping> Ports, IPAddress? ContainerIp6 = null);

/// <summary>
/// NAT and filtering for bridge networks and published ports, kept in chains (iptables) or a table (nftables) of
/// our own. Every rule carries a comment tag, "minidocker:net:&lt;network&gt;", "minidocker:ctr:&lt;first 12 chars of
/// the container id&gt;", or "minidocker:base" for the jumps and chain skeleton, and only tagged rules are ever
/// removed. All methods are idempotent: calling one twice changes nothing the second time.
/// </summary>
public interface IFirewall
{
    /// <summary>Removes the skeleton (our chains or table and the jumps into them) when no network or container
    /// rule is left, so a host with no networks carries nothing of ours.</summary>
    void RemoveIfUnused();

    /// <summary>"iptables" or "nftables".</summary>
    string Name { get; }

    /// <summary>Masquerading, forwarding and isolation for one network; also creates the chains and jumps if missing.</summary>
    void EnsureNetwork(NetworkRules n);

    /// <summary>Deletes exactly the rules tagged for this network.</summary>
    void RemoveNetwork(NetworkRules n);

    /// <summary>
    /// Adds the rules of a container that has none yet (a fresh attachment) in one batch, without reading the
    /// ruleset, so its cost does not grow with the number of containers. Throws when our chains or our jump from nat
    /// PREROUTING are missing (a flush, a deletion): the caller then falls back to <see cref="Reconcile"/>.
    /// </summary>
    void AppendContainer(ContainerPorts c);

    /// <summary>
    /// Whether our jump from nat PREROUTING is in place, read from that chain only: cheap whatever the number of
    /// containers. A nat table flushed by someone (`iptables -t nat -F`) loses it, and the caller then restores
    /// everything with <see cref="Reconcile"/> (`network reconcile` repairs any other damage).
    /// </summary>
    bool IsHookedIn();

    /// <summary>
    /// Deletes the rules <paramref name="c"/> was published with. The iptables backend deletes them by their spec in
    /// one batch without reading the ruleset; if any is missing (or with nftables, which deletes by handle) they are
    /// found by their tag as in <see cref="RemoveContainer(string)"/>.
    /// </summary>
    void RemoveContainer(ContainerPorts c);

    /// <summary>
    /// Deletes exactly the rules tagged for this container, leaving every other rule intact. Takes the full id or
    /// the 12-character form that <see cref="TaggedContainers"/> returns.
    /// </summary>
    void RemoveContainer(string containerId);

    /// <summary>
    /// Brings back whatever is missing of the skeleton and of the given networks' and containers' rules (after a
    /// flush, a deleted jump or chain, a reboot), in one read and one batch. Rules of networks not listed are left
    /// alone; rules of containers not listed are removed when <paramref name="removeUnlistedContainers"/> (the
    /// caller lists every container that publishes ports), else left for <see cref="TaggedContainers"/>.
    /// </summary>
    /// <param name="removeUnlistedNetworks">also remove the rules of this root's networks that are not listed (the
    /// caller lists every network the root has): what a `network rm` killed half-way by an older version left.</param>
    void Reconcile(IReadOnlyList<NetworkRules> networks, IReadOnlyList<ContainerPorts> containers,
        bool removeUnlistedContainers = false, bool removeUnlistedNetworks = false);

    /// <summary>The scopes (state roots, see <see cref="HostTags"/>) that have network or container rules on the host,
    /// of any root, "" for the default root.</summary>
    IReadOnlyList<string> TaggedScopes();

    /// <summary>Deletes every network and container rule of one scope, whichever root this firewall was made for:
    /// the sweep of a state root that no longer exists.</summary>
    void RemoveScope(string scope);

    /// <summary>Container tags present in the rules: the first 12 characters of each container id, sorted.</summary>
    IReadOnlyList<string> TaggedContainers();
}
