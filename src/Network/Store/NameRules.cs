using System.Text.RegularExpressions;

namespace MiniDocker.Network;

/// <summary>
/// What network names and container ids may look like. Both end up in file names under the state root and inside
/// iptables/nft scripts (rule comments), so anything outside these character sets is refused up front rather than
/// escaped in several places.
/// </summary>
public static partial class NameRules
{
    public const string NetworkNamePattern = "^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,62}$";

    public static void ValidateNetworkName(string name)
    {
        if (!NetworkNameRegex().IsMatch(name))
            throw new NetworkException($"invalid network name '{name}': must match {NetworkNamePattern}");
    }

    public static void ValidateContainerId(string containerId)
    {
        if (!ContainerIdRegex().IsMatch(containerId))
            throw new NetworkException(
                $"invalid container id '{containerId}': must be 1-128 characters of [a-zA-Z0-9_.-] starting with a letter or digit");
    }

    [GeneratedRegex(NetworkNamePattern)]
    private static partial Regex NetworkNameRegex();

    [GeneratedRegex("^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,127}$")]
    private static partial Regex ContainerIdRegex();
}
