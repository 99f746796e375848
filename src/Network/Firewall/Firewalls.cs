namespace MiniDocker.Network;

public static class Firewalls
{
    /// <summary>
    /// The firewall backend called <paramref name="name"/> ("iptables" or "nftables"), or for null the detected
    /// one: iptables when iptables-restore is installed (what most hosts and Docker use), otherwise nftables.
    /// <paramref name="netnsPath"/> (tests) runs the tools inside that network namespace, e.g. /run/netns/NAME.
    /// </summary>
    public static IFirewall Create(string? name, string? netnsPath = null) => name switch
    {
        "iptables" => new IptablesFirewall(netnsPath),
        "nftables" => new NftablesFirewall(netnsPath),
        null when ToolRunner.Find("iptables-restore") is not null => new IptablesFirewall(netnsPath),
        null when ToolRunner.Find("nft") is not null => new NftablesFirewall(netnsPath),
        null => throw new NetworkException("no firewall tool found: install iptables or nftables"),
        _ => throw new NetworkException($"unknown firewall backend '{name}': use iptables or nftables"),
    };
}
