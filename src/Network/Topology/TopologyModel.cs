using System.Net;

namespace MiniDocker.Network.Topology;

/// <summary>One interface as the kernel reports it (never as the state files say).</summary>
/// <param name="OperState">IFLA_OPERSTATE: "up" when packets pass; "down"/"lowerlayerdown" when they do not.</param>
public sealed record LinkView(string Name, int Index, bool AdminUp, string OperState, string? Kind, string? Master,
    IReadOnlyList<string> Addresses)
{
    public bool Passes => AdminUp && OperState is "up" or "unknown";
    public string State => !AdminUp ? "DOWN" : OperState == "up" ? "up" : OperState.ToUpperInvariant();
}

/// <summary>One firewall rule that concerns the network, with its kernel counters.</summary>
/// <param name="Backend">"iptables" (iptables-save -c) or "nft" (nft list table).</param>
public sealed record RuleView(string Backend, string Table, string Chain, long Packets, long Bytes, string Text)
{
    public bool IsDnat => Text.Contains("DNAT", StringComparison.Ordinal) || Text.Contains("dnat ", StringComparison.Ordinal);
    public bool IsMasquerade => Text.Contains("MASQUERADE", StringComparison.Ordinal) || Text.Contains("masquerade", StringComparison.Ordinal);
}

/// <summary>A container attached to the network, seen from the host (its veth end) and from inside its netns.</summary>
public sealed record ContainerView(
    string Id, string Name, int Pid, string HostVethName, string IfName, IPAddress StateAddress, int Prefix,
    LinkView? HostVeth, LinkView? Eth0, IReadOnlyList<string> Routes, IReadOnlyList<PortMapping> Ports,
    IReadOnlyList<RuleView> PortRules, IReadOnlyList<string> Conntrack, IReadOnlyList<string> Problems);

/// <summary>What `network inspect NAME --graph` draws.</summary>
public sealed record TopologyView(
    string Network, string Subnet, IPAddress Gateway, string BridgeName, LinkView? Bridge,
    LinkView? Uplink, IPAddress? UplinkGateway, IReadOnlyList<RuleView> NetworkRules,
    IReadOnlyList<ContainerView> Containers, IReadOnlyList<string> Problems)
{
    public bool Broken => Problems.Count > 0 || Containers.Any(c => c.Problems.Count > 0);
}

/// <summary>A container as the state files know it: what the reader compares the kernel against.</summary>
public sealed record AttachedContainer(EndpointRecord Endpoint, string Name, int Pid);
