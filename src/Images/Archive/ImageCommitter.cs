using System.Security.Cryptography;
using System.Text.Json;
using System.Text.Json.Nodes;
using MiniDocker.Images.Registry;

namespace MiniDocker.Images.Archive;

/// <summary>
/// `commit`: a container's overlay upper directory becomes one new layer on top of its image's (whiteouts turned back
/// into <c>.wh.</c> entries by <see cref="LayerTarWriter"/>), and the image config gets the -c changes and a history
/// entry. A --userns=auto container's upper directory is owned by its range's host ids: the layer gets the ids the
/// container saw (<see cref="HostIdRange"/>), so the image runs the same without a user namespace. The caller makes
/// sure the container is not running: a live container could swap a directory for a
/// symlink while the tree is walked.
/// </summary>
public sealed class ImageCommitter(ImageStore store, long maxLayerBytes)
{
    public ImageRecord Commit(string baseImageId, string upperDir, IReadOnlyList<string> changes, string? message,
        string? author, string? reference, HostIdRange? upperIds = null)
    {
        var image = store.Resolve(baseImageId);
        var name = reference is null ? null : ImageReference.Parse(reference);
        var newConfig = image.Config.WithChanges(changes); // refuses a bad change before any work
        var scratch = store.ScratchDirectory("commit");
        try
        {
            var layers = store.Layers;
            var diffIds = new List<string>();
            using (layers.PinForPull())
            {
                // An imported image's rootfs is not in the layer store yet: it becomes the bottom layer.
                var baseDiffIds = store.LayerDiffIds(image);
                if (baseDiffIds is null)
                    diffIds.Add(AddLayer(layers, store.RootfsPath(image), scratch, overlayWhiteouts: false));
                else
                    diffIds.AddRange(baseDiffIds);
                diffIds.Add(AddLayer(layers, upperDir, scratch, overlayWhiteouts: true, upperIds));

                var config = ImageSaver.ConfigObject(store, image);
                var now = DateTimeOffset.UtcNow.ToString("o");
                config["created"] = now;
                if (author is not null) config["author"] = author;
                var settings = config["config"] as JsonObject ?? new JsonObject();
                foreach (var (key, value) in ImageSaver.Settings(newConfig).ToList())
                    settings[key] = value?.DeepClone();
                config["config"] = settings;
                config["rootfs"] = new JsonObject { ["type"] = "layers", ["diff_ids"] = new JsonArray(diffIds.Select(d => (JsonNode)d).ToArray()) };
                var history = config["history"] as JsonArray ?? new JsonArray();
                var entry = new JsonObject { ["created"] = now, ["created_by"] = "minidocker commit" };
                if (message is not null) entry["comment"] = message;
                history.Add((JsonNode)entry);
                config["history"] = history;

                var bytes = System.Text.Encoding.UTF8.GetBytes(config.ToJsonString());
                var parsed = JsonSerializer.Deserialize(bytes, RegistryJson.Default.OciImageConfig)!;
                var id = Convert.ToHexStringLower(SHA256.HashData(bytes));
                return store.AddPulled(id, bytes, parsed, diffIds, name?.Tag, null, name?.Repository);
            }
        }
        finally
        {
            ImageStore.RemoveScratch(scratch);
        }
    }

    private string AddLayer(Layers.LayerStore layers, string directory, string scratch, bool overlayWhiteouts, HostIdRange? ids = null)
    {
        var file = Path.Combine(scratch, Guid.NewGuid().ToString("N"));
        using (var stream = new FileStream(file, FileMode.CreateNew, FileAccess.Write))
            LayerTarWriter.Write(directory, stream, overlayWhiteouts, ids);
        string digest;
        using (var read = File.OpenRead(file))
            digest = "sha256:" + Convert.ToHexStringLower(SHA256.HashData(read));
        using var held = layers.LockLayer(digest);
        if (!layers.Has(digest))
            layers.Add(file, digest, digest, maxLayerBytes);
        return digest;
    }
}
