using System.CommandLine;

namespace MiniDocker.Cli.Commands;

/// <summary>`minidocker rename CONTAINER NEW_NAME`</summary>
public static class RenameCommand
{
    public static Command Create()
    {
        var container = new Argument<string>("CONTAINER");
        var name = new Argument<string>("NEW_NAME");
        var command = new Command("rename", "Rename a container") { container, name };
        command.SetAction(p => LifecycleVerbs.ForEach([p.GetValue(container)!],
            c => LifecycleVerbs.WithLazyHooks(p).Rename(c, p.GetValue(name)!)));
        return command;
    }
}
