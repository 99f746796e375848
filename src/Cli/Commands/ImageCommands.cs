using System.CommandLine;
using System.Text.Json.Nodes;
using MiniDocker.Cli.Templates;
using MiniDocker.Images;
using MiniDocker.Runtime;

namespace MiniDocker.Cli.Commands;

/// <summary>`minidocker images`, `minidocker image import|ls|rm`, `minidocker rmi`.</summary>
public static class ImageCommands
{
    public static Command CreateImages()
    {
        var command = new Command("images", "List images") { Format, Digests };
        command.SetAction(List);
        return command;
    }

    public static Command CreateImage()
    {
        var ls = new Command("ls", "List images") { Format, Digests };
        ls.SetAction(List);

        var change = new Option<string[]>("--change", "-c") { Description = "Apply a Dockerfile instruction (CMD, ENTRYPOINT, ENV, WORKDIR, EXPOSE, VOLUME)" };
        var file = new Argument<string>("FILE") { Description = "Root filesystem tarball: plain, gzip, xz, bzip2 or zstd" };
        var reference = new Argument<string>("NAME[:TAG]");
        var import = new Command("import", "Import a root filesystem tarball as an image") { change, file, reference };
        import.SetAction(p =>
        {
            var image = Store(p).Import(p.GetValue(file)!, p.GetValue(reference)!, p.GetValue(change) ?? []);
            Console.WriteLine($"sha256:{image.Id}");
            return 0;
        });

        var image = new Command("image", "Manage images") { import, ls, CreateRemove("rm") };
        foreach (var subcommand in PullCommands.ImageSubcommands())
            image.Subcommands.Add(subcommand);
        image.Subcommands.Add(RegistryAuthCommands.CreatePush("push"));
        return image;
    }

    /// <summary>Docker's `rmi`, the same as `image rm`.</summary>
    public static Command CreateRmi() => CreateRemove("rmi");

    private static Command CreateRemove(string verb)
    {
        var force = new Option<bool>("--force", "-f")
        {
            Description = "Remove the image even if containers use it (it is untagged; its content stays until they are removed)",
        };
        var images = new Argument<string[]>("IMAGE") { Arity = ArgumentArity.OneOrMore };
        var rm = new Command(verb, "Remove one or more images") { force, images };
        rm.SetAction(p =>
        {
            var store = Store(p);
            var users = ImageUsers(p);
            foreach (var i in p.GetValue(images)!)
            {
                // What the store did, as Docker prints it: each NAME:TAG untagged, and the image if it went too.
                var removed = store.Remove(i, p.GetValue(force), users);
                foreach (var tag in removed.Untagged) Console.WriteLine($"Untagged: {tag}");
                if (removed.DeletedId is { } deleted) Console.WriteLine($"Deleted: sha256:{deleted}");
            }
            return 0;
        });
        return rm;
    }

    /// <summary>
    /// The containers of this root (running or stopped) and the images they use: the image store knows nothing of
    /// containers, so the CLI tells it.
    /// </summary>
    public static IReadOnlyCollection<ImageUser> Users(ParseResult p) => ImageUsers(p);

    private static IReadOnlyCollection<ImageUser> ImageUsers(ParseResult p) =>
        LifecycleVerbs.WithLazyHooks(p).List()
            .Select(o => new ImageUser(o.Entry.Config.ImageId, o.Entry.Config.Id,
                o.Status is ContainerStatus.Running or ContainerStatus.Restarting))
            .ToList();

    /// <summary>
    /// After containers are removed: deletes the content of images removed with force that no container uses now.
    /// The containers are gone whatever happens here, so a failure only leaves the content for a later removal.
    /// </summary>
    public static void RemoveReleasedImages(ParseResult p)
    {
        try
        {
            new ImageStore(Globals.StateRoot(p)).RemoveReleased(ImageUsers(p));
        }
        catch (ImageException)
        {
        }
    }

    private static ImageStore Store(ParseResult p) => new(Globals.StateRoot(p));

    private static readonly Option<string?> Format = new("--format")
    { Description = "Format output: table, json, table TEMPLATE or a Go TEMPLATE" };

    private static readonly Option<bool> Digests = new("--digests") { Description = "Show digests" };

    private static int List(ParseResult p)
    {
        var now = DateTimeOffset.UtcNow;
        var rows = Store(p).List().OrderByDescending(i => i.Created).Select(i => new JsonObject
        {
            ["Repository"] = i.Repository, ["Tag"] = i.Tag, ["ID"] = i.Id[..12],
            ["Digest"] = i.RepoDigests.FirstOrDefault(d => d.StartsWith(i.Repository + "@", StringComparison.Ordinal)) is { } digest
                ? digest[(digest.IndexOf('@') + 1)..] : "<none>",
            ["CreatedSince"] = Lifecycle.Humanize(now - i.Created) + " ago", ["CreatedAt"] = i.Created.ToString("yyyy-MM-dd HH:mm:ss zzz"),
            ["Size"] = HumanSize(i.Size), ["Containers"] = "N/A",
        }).ToList();
        var table = p.GetValue(Digests) ? DockerHeaders.ImageTable.Replace("{{.Tag}}\t", "{{.Tag}}\t{{.Digest}}\t") : DockerHeaders.ImageTable;
        return FormatOutput.List(p.GetValue(Format), rows, table, DockerHeaders.Image);
    }

    public static string HumanSize(long bytes) => bytes switch
    {
        < 1000 => $"{bytes}B",
        < 1000 * 1000 => $"{bytes / 1000.0:0.##}kB",
        < 1000L * 1000 * 1000 => $"{bytes / 1e6:0.##}MB",
        _ => $"{bytes / 1e9:0.##}GB",
    };
}
