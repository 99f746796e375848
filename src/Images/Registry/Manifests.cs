using System.Runtime.InteropServices;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace MiniDocker.Images.Registry;

/// <summary>The media types of the OCI distribution API that a pull understands.</summary>
public static class MediaTypes
{
    public const string DockerManifest = "application/vnd.docker.distribution.manifest.v2+json";
    public const string DockerManifestList = "application/vnd.docker.distribution.manifest.list.v2+json";
    public const string OciManifest = "application/vnd.oci.image.manifest.v1+json";
    public const string OciIndex = "application/vnd.oci.image.index.v1+json";

    public static readonly string[] Accepted = [OciIndex, DockerManifestList, OciManifest, DockerManifest];

    public static bool IsIndex(string? type) => type is OciIndex or DockerManifestList;

    /// <summary>Layers are tars, plain, gzip or zstd (the content decides, by its magic bytes); "foreign" (Windows)
    /// layers and non-layer blobs (attestations, signatures) are not for a Linux root.</summary>
    public static bool IsLayer(string? type) =>
        type is "application/vnd.oci.image.layer.v1.tar" or "application/vnd.oci.image.layer.v1.tar+gzip"
            or "application/vnd.oci.image.layer.v1.tar+zstd" or "application/vnd.docker.image.rootfs.diff.tar.gzip"
            or "application/vnd.docker.image.rootfs.diff.tar" or "application/vnd.docker.image.rootfs.diff.tar.zstd";
}

public sealed class Descriptor
{
    public string? MediaType { get; set; }
    public string Digest { get; set; } = "";
    public long Size { get; set; }
    public Platform? Platform { get; set; }
}

public sealed class Platform
{
    public string Architecture { get; set; } = "";
    public string Os { get; set; } = "";
    public string? Variant { get; set; }

    public override string ToString() => Variant is null ? $"{Os}/{Architecture}" : $"{Os}/{Architecture}/{Variant}";
}

/// <summary>A manifest or an index (manifest list): the fields of both, told apart by mediaType or by content.</summary>
public sealed class ManifestDocument
{
    public int SchemaVersion { get; set; }
    public string? MediaType { get; set; }
    public Descriptor? Config { get; set; }
    public List<Descriptor>? Layers { get; set; }
    public List<Descriptor>? Manifests { get; set; }

    [JsonIgnore] public bool IsIndex => MediaTypes.IsIndex(MediaType) || (MediaType is null && Manifests is not null);
}

/// <summary>The image config blob (OCI image spec "application/vnd.oci.image.config.v1+json").</summary>
public sealed class OciImageConfig
{
    public string? Architecture { get; set; }
    public string? Os { get; set; }
    public string? Variant { get; set; }
    public DateTimeOffset? Created { get; set; }
    public string? Author { get; set; }
    public OciContainerConfig? Config { get; set; }
    public OciRootFs? Rootfs { get; set; }
    public List<OciHistory>? History { get; set; }
}

public sealed class OciContainerConfig
{
    [JsonPropertyName("User")] public string? User { get; set; }
    [JsonPropertyName("ExposedPorts")] public Dictionary<string, JsonElement>? ExposedPorts { get; set; }
    [JsonPropertyName("Env")] public List<string>? Env { get; set; }
    [JsonPropertyName("Entrypoint")] public List<string>? Entrypoint { get; set; }
    [JsonPropertyName("Cmd")] public List<string>? Cmd { get; set; }
    [JsonPropertyName("Volumes")] public Dictionary<string, JsonElement>? Volumes { get; set; }
    [JsonPropertyName("WorkingDir")] public string? WorkingDir { get; set; }
    [JsonPropertyName("Labels")] public Dictionary<string, string>? Labels { get; set; }
    [JsonPropertyName("StopSignal")] public string? StopSignal { get; set; }
}

public sealed class OciRootFs
{
    public string Type { get; set; } = "";
    [JsonPropertyName("diff_ids")] public List<string> DiffIds { get; set; } = [];
}

public sealed class OciHistory
{
    public DateTimeOffset? Created { get; set; }
    [JsonPropertyName("created_by")] public string? CreatedBy { get; set; }
    public string? Comment { get; set; }
    [JsonPropertyName("empty_layer")] public bool EmptyLayer { get; set; }
}

public sealed class TokenResponse
{
    public string? Token { get; set; }
    [JsonPropertyName("access_token")] public string? AccessToken { get; set; }
}

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase,
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(ManifestDocument))]
[JsonSerializable(typeof(OciImageConfig))]
[JsonSerializable(typeof(TokenResponse))]
internal sealed partial class RegistryJson : JsonSerializerContext;

/// <summary>Picks this machine's image from an index, as Docker does (os, architecture, then the arm variant).</summary>
public static class PlatformMatcher
{
    public static Platform Host() => RuntimeInformation.OSArchitecture switch
    {
        Architecture.X64 => new Platform { Os = "linux", Architecture = "amd64" },
        Architecture.Arm64 => new Platform { Os = "linux", Architecture = "arm64", Variant = "v8" },
        var other => throw new ImageException($"no registry platform name for this machine's architecture {other}"),
    };

    /// <summary>The best entry for <paramref name="host"/>, or null when the index has none for it.</summary>
    public static Descriptor? Select(IReadOnlyList<Descriptor> entries, Platform host)
    {
        Descriptor? fallback = null;
        foreach (var entry in entries)
        {
            if (entry.Platform is not { } p || p.Os != host.Os || p.Architecture != host.Architecture)
                continue;
            if (p.Variant == host.Variant)
                return entry;
            // arm64 images mostly carry no variant (v8 is implied); another variant is a weaker match.
            if (p.Variant is null || (host.Variant == "v8" && p.Variant is "v8"))
                fallback ??= entry;
        }
        return fallback;
    }
}
