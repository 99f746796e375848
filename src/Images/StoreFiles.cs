using System.Text.Json.Serialization;

namespace MiniDocker.Images;

/// <summary><c>images/repositories.json</c>: every NAME:TAG with the layer it names and its own settings.</summary>
/// <remarks>
/// The config lives with the tag, not with the layer, because the image ID is the digest of the tar content alone:
/// the same tarball imported under two names with different <c>-c</c> changes shares one layer on disk but must
/// keep both configs.
/// </remarks>
internal sealed class RepositoriesFile
{
    public SortedDictionary<string, TagEntry> Repositories { get; set; } = new(StringComparer.Ordinal);

    /// <summary>Layers whose image was removed with force while containers used them: deleted once none does.</summary>
    public List<string> Released { get; set; } = [];
}

internal sealed class TagEntry
{
    public required string Id { get; set; }
    public required DateTimeOffset Created { get; set; }
    public required ImageConfig Config { get; set; }
}

/// <summary><c>images/&lt;id&gt;/image.json</c>: facts about one extracted layer.</summary>
internal sealed class LayerFile
{
    public required string Id { get; set; }
    public required DateTimeOffset Created { get; set; }
    public required long Size { get; set; }
    public required TarCompression Compression { get; set; }
    public required ExtractResult Extracted { get; set; }
    /// <summary>A pulled image: its layers' diff ids, bottom first (in the layer store); null for an imported one,
    /// whose one layer is the rootfs/ beside this file.</summary>
    public List<string>? Layers { get; set; }
    /// <summary>REPOSITORY@sha256:... of the manifests it was pulled by (Docker's RepoDigests).</summary>
    public List<string>? RepoDigests { get; set; }
}

[JsonSourceGenerationOptions(WriteIndented = true, PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase,
    UseStringEnumConverter = true)]
[JsonSerializable(typeof(RepositoriesFile))]
[JsonSerializable(typeof(LayerFile))]
internal sealed partial class StoreJson : JsonSerializerContext;
