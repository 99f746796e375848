namespace MiniDocker.Network;

public static class Firewalls
{
    /// <summary>
    /// The firewall backend called <paramref name="name"/> ("iptables" or "nftables"), or for null the detected
    /// one: iptables when iptables-restore is installed (what most hosts and Docker use), otherwise nftables.
    /// <paramref name="netnsPath"/> (tests) runs the tools inside that network namespace, e.g. /run/netns/NAME.
    /// <paramref name="scope"/> names the state root the rules belong to ("" for the default root): tags carry it, so
    /// roots side by side on one host never take each other's rules for their own (see TaggedRuleFirewall).
    /// </summary>
    public static IFirewall Create(string? name, string? netnsPath = null, string scope = "") => name switch
    {
        "iptables" => new IptablesFirewall(netnsPath, scope),
        "nftables" => new NftablesFirewall(netnsPath, scope),
        null when ToolRunner.Find("iptables-restore") is not null => new IptablesFirewall(netnsPath, scope),
        null when ToolRunner.Find("nft") is not null => new NftablesFirewall(netnsPath, scope),
        null => throw new NetworkException("no firewall tool found: install iptables or nftables"),
        _ => throw new NetworkException($"unknown firewall backend '{name}': use iptables or nftables"),
    };
}
