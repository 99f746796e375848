namespace MiniDocker.Network;

/// <summary>
/// One backend for both families: the IPv4 firewall as before, and its IPv6 twin (ip6tables, or nftables' ip6 table)
/// for dual-stack networks and their containers only. A host with no IPv6 network keeps nothing of ours in the IPv6
/// tables, and an IPv4-only run pays no IPv6 tool call.
/// </summary>
internal sealed class DualStackFirewall(TaggedRuleFirewall ipv4, TaggedRuleFirewall ipv6, string scope) : IFirewall
{
    public string Name => ipv4.Name;

    public void RemoveIfUnused()
    {
        ipv4.RemoveIfUnused();
        ipv6.RemoveIfUnused();
    }

    public void EnsureNetwork(NetworkRules n)
    {
        ipv4.EnsureNetwork(n);
        if (n.Subnet6 is not null) ipv6.EnsureNetwork(n);
    }

    public void RemoveNetwork(NetworkRules n)
    {
        ipv4.RemoveNetwork(n);
        if (n.Subnet6 is not null) ipv6.RemoveNetwork(n);
    }

    public void AppendContainer(ContainerPorts c)
    {
        ipv4.AppendContainer(c);
        if (c.ContainerIp6 is not null && c.Ports.Any(m => m.HostIp is null)) ipv6.AppendContainer(c);
    }

    public bool IsHookedIn() => ipv4.IsHookedIn();

    public void RemoveContainer(ContainerPorts c)
    {
        ipv4.RemoveContainer(c);
        if (c.ContainerIp6 is not null && c.Ports.Any(m => m.HostIp is null)) ipv6.RemoveContainer(c);
    }

    public void RemoveContainer(string containerId)
    {
        ipv4.RemoveContainer(containerId);
        ipv6.RemoveContainer(containerId);
    }

    public void Reconcile(IReadOnlyList<NetworkRules> networks, IReadOnlyList<ContainerPorts> containers,
        bool removeUnlistedContainers = false, bool removeUnlistedNetworks = false)
    {
        ipv4.Reconcile(networks, containers, removeUnlistedContainers, removeUnlistedNetworks);
        var networks6 = networks.Where(n => n.Subnet6 is not null).ToList();
        if (networks6.Count > 0)
        {
            ipv6.Reconcile(networks6, containers.Where(c => c.ContainerIp6 is not null && c.Ports.Any(m => m.HostIp is null)).ToList(),
                removeUnlistedContainers, removeUnlistedNetworks);
        }
        else if (removeUnlistedNetworks)
        {
            // No dual-stack network left in this root: whatever of it is still in the IPv6 tables is a leftover.
            ipv6.RemoveScope(scope);
            ipv6.RemoveIfUnused();
        }
    }

    public IReadOnlyList<string> TaggedScopes() => ipv4.TaggedScopes().Union(ipv6.TaggedScopes()).Order(StringComparer.Ordinal).ToList();

    public void RemoveScope(string scope)
    {
        ipv4.RemoveScope(scope);
        ipv6.RemoveScope(scope);
    }

    public IReadOnlyList<string> TaggedContainers() =>
        ipv4.TaggedContainers().Union(ipv6.TaggedContainers()).Order(StringComparer.Ordinal).ToList();
}
