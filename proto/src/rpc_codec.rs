//! The gRPC codec of the bct services: prost's encoding, and a decoder that answers a request
//! it cannot decode with `INVALID_ARGUMENT` (what node.proto promises for a malformed request;
//! tonic's own prost codec says `INTERNAL`, as if the server were at fault).

use std::marker::PhantomData;

use prost::Message;
use tonic::codec::{Codec, DecodeBuf, Decoder};
use tonic::Status;
use tonic_prost::ProstEncoder;

/// The codec the generated clients and servers use.
#[derive(Debug, Clone, Copy)]
pub struct BctCodec<T, U> {
    _pd: PhantomData<(T, U)>,
}

impl<T, U> Default for BctCodec<T, U> {
    fn default() -> Self {
        BctCodec { _pd: PhantomData }
    }
}

impl<T, U> Codec for BctCodec<T, U>
where
    T: Message + Send + 'static,
    U: Message + Default + Send + 'static,
{
    type Encode = T;
    type Decode = U;
    type Encoder = ProstEncoder<T>;
    type Decoder = BctDecoder<U>;

    fn encoder(&mut self) -> Self::Encoder {
        ProstEncoder::default()
    }

    fn decoder(&mut self) -> Self::Decoder {
        BctDecoder { _pd: PhantomData }
    }
}

/// Decodes a `U`; bytes that are not one are `INVALID_ARGUMENT`.
#[derive(Debug, Clone, Copy)]
pub struct BctDecoder<U> {
    _pd: PhantomData<U>,
}

impl<U: Message + Default> Decoder for BctDecoder<U> {
    type Item = U;
    type Error = Status;

    fn decode(&mut self, buf: &mut DecodeBuf<'_>) -> Result<Option<U>, Status> {
        U::decode(buf).map(Some).map_err(|e| {
            Status::invalid_argument(format!("the message is not a valid protobuf encoding of its type: {e}"))
        })
    }
}
