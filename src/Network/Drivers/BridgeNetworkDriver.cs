namespace MiniDocker.Network;

/// <summary>The bridge driver behind <see cref="INetworkDriver"/>: a Linux bridge with the gateway, a veth per
/// container (see <see cref="BridgeDriver"/>, which does the work).</summary>
internal sealed class BridgeNetworkDriver : INetworkDriver
{
    public string Name => NetworkStore.BridgeDriver;

    public bool HasHostBridge => true;

    public void CreateNetwork(NetworkRecord network, string tag, Action? created = null) => BridgeDriver.EnsureBridge(network, tag, created);

    public void EnsureNetwork(NetworkRecord network, string tag) => BridgeDriver.EnsureBridge(network, tag);

    public void DeleteNetwork(NetworkRecord network, string tag) => BridgeDriver.DeleteOwnedBridge(network.Bridge, tag);

    public void Attach(NetworkRecord network, EndpointRecord endpoint, string netnsPath, bool hairpin, bool defaultRoute) =>
        BridgeDriver.Attach(network, endpoint, netnsPath, hairpin, defaultRoute);

    // Deleting the host end deletes the pair, wherever the other end is: no namespace needed.
    public void Detach(NetworkRecord? network, EndpointRecord endpoint, string? netnsPath) =>
        BridgeDriver.Detach(endpoint.HostVeth, network?.Bridge ?? "");
}
