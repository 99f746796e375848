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
    /// Each backend covers both families (see DualStackFirewall): ip6tables beside iptables, nftables' ip6 table beside ip.
    public static IFirewall Create(string? name, string? netnsPath = null, string scope = "") => name switch
    {
        "iptables" => Iptables(netnsPath, scope),
        "nftables" => Nftables(netnsPath, scope),
        null when ToolRunner.Find("iptables-restore") is not null => Iptables(netnsPath, scope),
        null when ToolRunner.Find("nft") is not null => Nftables(netnsPath, scope),
        null => throw new NetworkException("no firewall tool found: install iptables or nftables"),
        _ => throw new NetworkException($"unknown firewall backend '{name}': use iptables or nftables"),
    };

    private static IFirewall Iptables(string? netnsPath, string scope) =>
        new DualStackFirewall(new IptablesFirewall(netnsPath, scope), new IptablesFirewall(netnsPath, scope, ipv6: true), scope);

    private static IFirewall Nftables(string? netnsPath, string scope) =>
        new DualStackFirewall(new NftablesFirewall(netnsPath, scope), new NftablesFirewall(netnsPath, scope, ipv6: true), scope);
}
