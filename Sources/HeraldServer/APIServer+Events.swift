import HeraldJSON
import HeraldModel
import HeraldStorage
import Hummingbird
import Logging

extension APIServer {
    func addEventRoutes(to routes: RouteGroups) {
        routes.tenant(.read).get("/events") { request, context -> Response in
            let tenant = context.tenant
            let after = try queryInt(request, "after", default: 0, range: 0...Int64.max)
            let query = try APIServer.eventQuery(request, after: after)
            let events: [EventRecord]
            if let query {
                events = try await ingest.store.events(tenant: tenant.id, query)
            } else {
                let limit = try queryInt(request, "limit", default: 100, range: 1...10_000)
                events = try await ingest.store.events(tenant: tenant.id, after: after, limit: Int(limit))
            }
            return try APIServer.eventsPage(events, next: events.last?.seq ?? after, logger: logger, tenant: tenant.id)
        }
    }

    /// How much of an events page is rendered before it is sent: a page of 10,000 sample people's events is
    /// ~130 MB of JSON, and building it whole took ~2.5 times that per request (the writer's growth, then the copy
    /// into a `ByteBuffer`).
    static let eventsPiece = 1 << 20

    /// `{"events": [...], "next": N}`. A page up to `eventsPiece` is rendered before it is answered, with its
    /// length, as before; a larger page is sent in pieces of about `eventsPiece` as it is rendered (chunked), so a
    /// request holds its events and one piece, whatever the page's size. The first piece is rendered before the
    /// answer, so an event that cannot be rendered there still gives an error response; one further on ends the
    /// response early (the client sees the body cut off), as the status line has gone.
    static func eventsPage(_ events: [EventRecord], next: Int64, logger: Logger, tenant: String) throws -> Response {
        var w = JSONWriter(capacity: min(2048 * events.count + 64, eventsPiece + 64 * 1024))
        var stored = StoredEntityRenderer()
        w.beginObject()
        w.key("events")
        w.beginArray()
        var index = 0
        while index < events.count && w.bytes.count < eventsPiece {
            try renderEvent(events[index], into: &w, stored: &stored)
            index += 1
        }
        if index == events.count {
            endEventsPage(next: next, into: &w)
            return jsonResponse(w.bytes)
        }
        let first = w
        let rest = index
        let body = ResponseBody { writer in
            var w = first
            var stored = StoredEntityRenderer()
            var index = rest
            while true {
                try await writer.write(ByteBuffer(bytes: w.bytes))
                w.bytes.removeAll(keepingCapacity: true)
                if index == events.count { break }
                while index < events.count && w.bytes.count < eventsPiece {
                    do {
                        try renderEvent(events[index], into: &w, stored: &stored)
                    } catch {
                        // The status line has gone: the body ends here, and only the log can say why.
                        logger.error(
                            "events page of tenant \(tenant) cut off at seq \(events[index].seq): \(error)")
                        throw error
                    }
                    index += 1
                }
                if index == events.count { endEventsPage(next: next, into: &w) }
            }
            try await writer.finish(nil)
        }
        return Response(status: .ok, headers: [.contentType: "application/json"], body: body)
    }

    /// `], "next": N}`: what closes a page after its last event.
    private static func endEventsPage(next: Int64, into w: inout JSONWriter) {
        w.endArray()
        w.key("next")
        w.int(next)
        w.endObject()
    }

    /// One CRUD-queue row as the events API shows it: from the stored bytes when `StoredEntityRenderer` takes the
    /// snapshot (and, for a creation or a removal, derives its delta), else after decoding the entity. Both give the
    /// same bytes.
    static func renderEvent(_ record: EventRecord, into w: inout JSONWriter, stored: inout StoredEntityRenderer) throws {
        let start = w.mark
        if renderEventFromStored(record, into: &w, stored: &stored) { return }
        w.rewind(to: start)
        try renderEventDecoded(record, into: &w)
    }

    private static func writeEventHeader(_ record: EventRecord, into w: inout JSONWriter) {
        w.beginObject()
        w.key("seq")
        w.int(record.seq)
        w.key("type")
        w.string(record.event.type.rawValue)
        w.key("objectUri")
        w.string(record.event.objectURI)
        w.key("objectVersion")
        w.int(record.event.objectVersion)
        w.key("time")
        w.int(record.event.time)
        if !record.event.uris.isEmpty {
            w.key("uris")
            w.beginArray()
            for u in record.event.uris { w.string(u) }
            w.endArray()
        }
    }

    /// False when the stored renderer does not take this event; what it wrote is then dropped by the caller.
    static func renderEventFromStored(_ record: EventRecord, into w: inout JSONWriter, stored: inout StoredEntityRenderer)
        -> Bool
    {
        let event = record.event
        let derived = event.delta.isEmpty ? event.type.derivedDeltaAdds : nil
        writeEventHeader(record, into: &w)
        w.key("object")
        guard stored.render(stored: event.snapshot, into: &w) != nil else { return false }
        if derived != nil, !stored.rendersDerivedDelta(stored: event.snapshot) { return false }
        if !event.details.isEmpty {
            w.key("matches")
            w.raw(event.details)
        }
        w.key("deltas")
        if !event.delta.isEmpty {
            w.raw(event.delta)
        } else if let derived {
            guard stored.renderDerivedDelta(stored: event.snapshot, added: derived, into: &w) else { return false }
        } else {
            Delta().render(into: &w, entityType: "")
        }
        w.endObject()
        return true
    }

    /// One CRUD-queue row as the events API shows it, after decoding the entity.
    static func renderEventDecoded(_ record: EventRecord, into w: inout JSONWriter) throws {
        let entity = try record.event.entity()
        writeEventHeader(record, into: &w)
        w.key("object")
        entity.render(into: &w)
        if !record.event.details.isEmpty {
            w.key("matches")
            w.raw(record.event.details)
        }
        w.key("deltas")
        record.event.delta(for: entity).render(into: &w, entityType: entity.type)
        w.endObject()
    }
}

func queryInt(_ request: Request, _ name: String, default value: Int64, range: ClosedRange<Int64>) throws -> Int64 {
    guard let text = request.uri.queryParameters[Substring(name)] else { return value }
    guard let n = Int64(text), range.contains(n) else {
        throw APIError(
            .badRequest, "INVALID_PARAMETER",
            "query parameter '\(name)' must be an integer in \(range.lowerBound)...\(range.upperBound), got '\(Echo.cut(text))'")
    }
    return n
}
