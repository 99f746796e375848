using System.Text.Json;
using System.Text.Json.Serialization;

namespace MiniDocker.Images.Registry;

/// <summary>
/// Registry settings, in Docker's daemon.json keys: <c>{"insecure-registries": ["host:port"], "registry-mirrors":
/// ["https://mirror"]}</c>, read from <c>&lt;root&gt;/daemon.json</c> (root-owned, in the state root: a local user
/// cannot add a mirror or mark a registry insecure). Certificates as Docker reads them:
/// <c>/etc/docker/certs.d/HOST[:PORT]/ca.crt</c>.
/// </summary>
public sealed class RegistryConfig
{
    [JsonPropertyName("insecure-registries")] public List<string> InsecureRegistries { get; set; } = [];
    [JsonPropertyName("registry-mirrors")] public List<string> RegistryMirrors { get; set; } = [];
    /// <summary>When not empty, the only registry hosts (with or without port) a pull may contact; a policy for
    /// air-gapped hosts, and what the tests use so a missing image never reaches Docker Hub.</summary>
    [JsonPropertyName("allowed-registries")] public List<string> AllowedRegistries { get; set; } = [];
    [JsonPropertyName("certs-dir")] public string CertsDir { get; set; } = "/etc/docker/certs.d";
    /// <summary>Seconds without a byte from the registry before a request is given up (a registry that hangs).</summary>
    [JsonPropertyName("registry-timeout")] public int TimeoutSeconds { get; set; } = 60;
    /// <summary>Attempts per request on transient errors (connection failures, 5xx, 429, a cut transfer).</summary>
    [JsonPropertyName("registry-attempts")] public int Attempts { get; set; } = 4;

    /// <summary>Largest uncompressed size of one layer's tar stream, in bytes (default 64 GiB: above any real image
    /// layer, below what fills a disk unnoticed); a layer expanding past it (a gzip bomb) is refused.</summary>
    [JsonPropertyName("max-layer-size")] public long MaxLayerBytes { get; set; } = Layers.LayerStore.DefaultMaxLayerBytes;

    public static RegistryConfig Load(string stateRoot)
    {
        var path = Path.Combine(stateRoot, "daemon.json");
        if (!File.Exists(path))
            return new RegistryConfig();
        try
        {
            return JsonSerializer.Deserialize(File.ReadAllBytes(path), RegistryConfigJson.Default.RegistryConfig) ?? new RegistryConfig();
        }
        catch (JsonException e)
        {
            throw new ImageException($"'{path}' is not valid: {e.Message}", e);
        }
    }

    /// <summary>Plain HTTP only for loopback or a registry the administrator listed (Docker's rule).</summary>
    public bool IsInsecure(string host)
    {
        var name = HostWithoutPort(host);
        return name is "localhost" or "127.0.0.1" or "[::1]" || InsecureRegistries.Contains(host, StringComparer.OrdinalIgnoreCase)
               || InsecureRegistries.Contains(name, StringComparer.OrdinalIgnoreCase);
    }

    public bool IsAllowed(string host) =>
        AllowedRegistries.Count == 0 || AllowedRegistries.Contains(host, StringComparer.OrdinalIgnoreCase)
        || AllowedRegistries.Contains(HostWithoutPort(host), StringComparer.OrdinalIgnoreCase);

    private static string HostWithoutPort(string host)
    {
        if (host.StartsWith('['))
            return host[..(host.IndexOf(']') + 1)];
        var colon = host.LastIndexOf(':');
        return colon < 0 ? host : host[..colon];
    }
}

[JsonSerializable(typeof(RegistryConfig))]
internal sealed partial class RegistryConfigJson : JsonSerializerContext;
