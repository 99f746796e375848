namespace MiniDocker.Network;

/// <summary>
/// How this program marks what it puts on the host, so that only its own objects are ever removed: firewall rules
/// carry a comment tag and bridges an interface alias (IFLA_IFALIAS) of the same form,
/// "minidocker:net:[SCOPE:]NETWORK" or "minidocker:ctr:[SCOPE:]ID12", where SCOPE names the state root (none for the
/// default root, see <see cref="NetworkStore.ScopeOf"/>). Network names and container ids never contain ':'.
/// </summary>
public static class HostTags
{
    public const string Base = "minidocker:base";
    public const string NetworkPrefix = "minidocker:net:";
    public const string ContainerPrefix = "minidocker:ctr:";

    public static string Network(string scope, string network) => NetworkPrefix + ScopePrefix(scope) + network;

    public static string Container(string scope, string containerId) =>
        ContainerPrefix + ScopePrefix(scope) + containerId[..Math.Min(12, containerId.Length)];

    /// <summary>The scope and name of a network or container tag; false for the base tag or text that is not ours.</summary>
    public static bool TryParse(string? tag, out string scope, out string name)
    {
        scope = name = "";
        if (tag is null) return false;
        string rest;
        if (tag.StartsWith(NetworkPrefix, StringComparison.Ordinal)) rest = tag[NetworkPrefix.Length..];
        else if (tag.StartsWith(ContainerPrefix, StringComparison.Ordinal)) rest = tag[ContainerPrefix.Length..];
        else return false;
        int colon = rest.IndexOf(':');
        if (colon < 0) name = rest;
        else
        {
            scope = rest[..colon];
            name = rest[(colon + 1)..];
            if (scope.Length == 0 || name.Contains(':')) return false;
        }
        return name.Length > 0;
    }

    /// <summary>
    /// The MAC a network's bridge is created with: locally administered, unicast (02:...) and stable per tag, so a
    /// bridge re-created after a reboot answers ARP with the address its neighbours have cached. Fixed at creation,
    /// it never follows the lowest MAC of the bridge's ports, as the kernel otherwise makes it do.
    /// </summary>
    public static byte[] BridgeMac(string networkTag)
    {
        ulong hash = 14695981039346656037;
        foreach (byte b in System.Text.Encoding.UTF8.GetBytes("bridge-mac\0" + networkTag))
            hash = (hash ^ b) * 1099511628211;
        var mac = new byte[6];
        mac[0] = 0x02;
        for (int i = 1; i < 6; i++) mac[i] = (byte)(hash >> (8 * (i - 1)));
        return mac;
    }

    private static string ScopePrefix(string scope) => scope.Length == 0 ? "" : scope + ":";
}
