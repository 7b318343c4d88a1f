/** A `.proto` file using every Protobuf feature the codec supports, for the codec's tests. */
export const ORDERS_PROTO = `syntax = "proto3";
package acme.orders.v1;

import "google/protobuf/timestamp.proto";
import "google/protobuf/duration.proto";
import "google/protobuf/wrappers.proto";

// The first message is the default event message.
message OrderPlaced {
  enum Channel { CHANNEL_UNSPECIFIED = 0; WEB = 1; STORE = 2; }
  message Line {
    string sku = 1;
    uint32 quantity = 2;
    message Discount { int64 cents = 1; }
    Discount discount = 3;
  }
  string order_id = 1;
  int64 total_cents = 2;
  uint64 sequence = 3;
  bytes signature = 4;
  Channel channel = 5;
  repeated Line lines = 6;
  google.protobuf.Timestamp placed_at = 7;
  google.protobuf.Duration delivery_window = 8;
  google.protobuf.StringValue note = 9;
  google.protobuf.Int64Value loyalty_points = 10;
  map<string, int32> tags = 11;
  oneof payment { string card = 12; string voucher = 13; }
  double weight = 14;
}

message OrderShipped { string order_id = 1; Status status = 2; }

enum Status { STATUS_UNSPECIFIED = 0; SHIPPED = 1; }
`;
