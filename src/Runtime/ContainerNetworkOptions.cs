namespace MiniDocker.Runtime;

/// <summary>What `run` asks of names and networks beyond its first network (config.json "networkOptions"; a config
/// written before has none).</summary>
public sealed class ContainerNetworkOptions
{
    /// <summary>`--network` after the first: joined as eth1, eth2..., without the default route.</summary>
    public List<string> ExtraNetworks { get; set; } = new();
    /// <summary>`--network-alias`: more names on every user network it joins.</summary>
    public List<string> Aliases { get; set; } = new();
    /// <summary>`--dns`, `--dns-search`, `--dns-option`: shape /etc/resolv.conf.</summary>
    public List<string> Dns { get; set; } = new();
    public List<string> DnsSearch { get; set; } = new();
    public List<string> DnsOptions { get; set; } = new();
    /// <summary>`--add-host NAME:IP` (IP may be host-gateway): lines of /etc/hosts.</summary>
    public List<string> ExtraHosts { get; set; } = new();
    /// <summary>`--ip6`: the IPv6 address on the first network (a dual-stack one).</summary>
    public string? RequestedIp6 { get; set; }
}
