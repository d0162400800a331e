namespace Fabric.Messages.Intent.Parsing;

internal static partial class IntentChecks
{
    private static void CheckPseudowires(IntentDocument document, ReadContext context)
    {
        var pes = Unique(context, document.Pes, p => p.Name, "name", "pe");
        Unique(context, document.Pes, p => p.RouterId.ToString(), "routerId", "router id");
        foreach (var pe in document.Pes)
            Unique(context, pe.AttachmentCircuits, a => a.Name, "name", "attachment circuit");

        var pws = Unique(context, document.Pws, p => p.Name, "name", "pw");
        foreach (var pw in document.Pws)
        {
            if (!pes.ContainsKey(pw.Pe)) context.ErrorAt(pw, "pe", $"unknown pe '{pw.Pe}'");
            if (!pes.ContainsKey(pw.RemotePe)) context.ErrorAt(pw, "remotePe", $"unknown pe '{pw.RemotePe}'");
            else if (pw.RemotePe == pw.Pe) context.ErrorAt(pw, "remotePe", $"a pw needs a remote pe other than its own ('{pw.Pe}')");
        }

        // The local label is how the PE tells its PWs apart on receive: unique per PE.
        foreach (var group in document.Pws.GroupBy(p => p.Pe))
            Unique(context, group, p => p.LocalLabel.ToString(System.Globalization.CultureInfo.InvariantCulture), "localLabel", $"local label on pe '{group.Key}'");

        // Statically configured labels must pair up, or the remote PE drops what we send it.
        foreach (var pw in document.Pws)
        {
            var origin = context.Origin(pw);
            if (pw.RemotePe == pw.Pe || !pes.ContainsKey(pw.RemotePe) || !pes.ContainsKey(pw.Pe)
                || context.HasFailed(origin.PathOf("remoteLabel")) || context.HasFailed(origin.PathOf("remotePe")))
                continue;
            var peer = document.Pws.FirstOrDefault(p => p.Pe == pw.RemotePe && p.RemotePe == pw.Pe && p.LocalLabel == pw.RemoteLabel);
            if (peer is null)
                context.ErrorAt(pw, "remoteLabel", $"no pw on pe '{pw.RemotePe}' towards '{pw.Pe}' has local label {pw.RemoteLabel}");
        }

        Unique(context, document.Trunks, t => t.Name, "name", "trunk");
        var trunkOfPw = new Dictionary<string, TrunkIntent>();
        var trunkOfAc = new Dictionary<(string, string), TrunkIntent>();
        foreach (var trunk in document.Trunks)
        {
            if (!pes.TryGetValue(trunk.Pe, out var pe))
            {
                context.ErrorAt(trunk, "pe", $"unknown pe '{trunk.Pe}'");
            }
            else if (!context.HasFailed(context.Origin(trunk).PathOf("attachmentCircuit")))
            {
                if (pe.AttachmentCircuits.All(a => a.Name != trunk.AttachmentCircuit))
                    context.ErrorAt(trunk, "attachmentCircuit", $"unknown attachment circuit '{trunk.AttachmentCircuit}' on pe '{pe.Name}'");
                else if (trunkOfAc.TryGetValue((pe.Name, trunk.AttachmentCircuit), out var other))
                    context.ErrorAt(trunk, "attachmentCircuit", $"attachment circuit '{trunk.AttachmentCircuit}' already feeds trunk '{other.Name}'");
                else
                    trunkOfAc[(pe.Name, trunk.AttachmentCircuit)] = trunk;
            }

            for (var i = 0; i < trunk.Members.Length; i++)
            {
                var member = trunk.Members[i];
                if (member.Length == 0 || trunk.Members.IndexOf(member) < i) continue;
                if (!pws.TryGetValue(member, out var pw))
                    context.ErrorAtItem(trunk, "members", i, $"unknown pw '{member}'");
                else if (pw.Pe != trunk.Pe && pes.ContainsKey(trunk.Pe))
                    context.ErrorAtItem(trunk, "members", i, $"pw '{member}' belongs to pe '{pw.Pe}', not to the trunk's pe '{trunk.Pe}'");
                else if (trunkOfPw.TryGetValue(member, out var other))
                    context.ErrorAtItem(trunk, "members", i, $"pw '{member}' is already a member of trunk '{other.Name}'");
                else
                    trunkOfPw[member] = trunk;
            }
        }
    }
}
