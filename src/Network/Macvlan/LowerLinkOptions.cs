using System.Globalization;
using MiniDocker.Netlink;

namespace MiniDocker.Network;

/// <summary>The driver options (-o) of macvlan and ipvlan networks, under Docker's names.</summary>
public static class LowerLinkOptions
{
    public const string Macvlan = "macvlan";
    public const string Ipvlan = "ipvlan";
    public const string Parent = "parent";
    public const string MacvlanModeKey = "macvlan_mode";
    public const string IpvlanModeKey = "ipvlan_mode";

    public static bool IsDriver(string driver) => driver is Macvlan or Ipvlan;

    /// <param name="Parent">the host interface on the LAN the containers join.</param>
    public sealed record Parsed(string Parent, MacvlanMode MacvlanMode, IpvlanMode IpvlanMode, int Mtu);

    public static Parsed Parse(string driver, IReadOnlyDictionary<string, string> options)
    {
        if (!IsDriver(driver)) throw new ArgumentException($"'{driver}' is not macvlan or ipvlan", nameof(driver));
        string? parent = null;
        var macvlanMode = MacvlanMode.Bridge;
        var ipvlanMode = IpvlanMode.L2;
        int mtu = 0;
        foreach (var (key, value) in options)
        {
            switch (key)
            {
                case Parent:
                    if (!InterfaceNames.IsValid(value))
                        throw new NetworkException($"invalid parent '{value}': must be 1-{InterfaceNames.MaxLength} bytes of [a-zA-Z0-9_.-]");
                    parent = value;
                    break;
                case MacvlanModeKey when driver == Macvlan:
                    macvlanMode = value switch
                    {
                        "bridge" => MacvlanMode.Bridge,
                        "private" => MacvlanMode.Private,
                        "vepa" => MacvlanMode.Vepa,
                        // One child owning the parent's MAC: a second container could never join.
                        "passthru" => throw new NetworkException("macvlan_mode passthru is not supported: it gives the whole parent to one container"),
                        _ => throw new NetworkException($"invalid macvlan_mode '{value}': use bridge, private or vepa"),
                    };
                    break;
                case IpvlanModeKey when driver == Ipvlan:
                    ipvlanMode = value switch
                    {
                        "l2" => IpvlanMode.L2,
                        "l3" => IpvlanMode.L3,
                        "l3s" => IpvlanMode.L3S,
                        _ => throw new NetworkException($"invalid ipvlan_mode '{value}': use l2, l3 or l3s"),
                    };
                    break;
                case NetworkOptions.Mtu or NetworkOptions.DockerMtu:
                    if (!int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out int m) || m is < 68 or > 65535)
                        throw new NetworkException($"invalid MTU '{value}': must be a number from 68 to 65535");
                    mtu = m;
                    break;
                default:
                    throw new NetworkException($"unknown option '{key}' for driver {driver}: use {Parent}, " +
                        (driver == Macvlan ? $"{MacvlanModeKey} (bridge, private, vepa)" : $"{IpvlanModeKey} (l2, l3, l3s)") + $" or {NetworkOptions.Mtu}");
            }
        }
        if (parent is null)
            throw new NetworkException($"network driver {driver} needs a parent interface: -o {Parent}=IF (the host's interface on the LAN the containers join)");
        return new Parsed(parent, macvlanMode, ipvlanMode, mtu);
    }
}
