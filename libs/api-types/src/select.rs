//! Serialising a struct with only some of its fields, straight into the output: the struct's
//! own `Serialize` runs against [`Only`], which hands each wanted field to the real serializer
//! and drops the rest, so a `select` on a run costs no intermediate JSON value.

use serde::Serialize;
use serde::ser::{Error as _, Impossible, SerializeMap, SerializeStruct, Serializer};

/// Serialises `value` (a struct) keeping the fields `wants` accepts.
pub fn serialize_fields<T, S, F>(value: &T, serializer: S, wants: F) -> Result<S::Ok, S::Error>
where
    T: Serialize + ?Sized,
    S: Serializer,
    F: Fn(&str) -> bool,
{
    value.serialize(Only {
        inner: serializer,
        wants,
    })
}

struct Only<S, F> {
    inner: S,
    wants: F,
}

/// The fields of one struct, filtered.
pub struct Fields<M, F> {
    map: M,
    wants: F,
}

impl<M: SerializeMap, F: Fn(&str) -> bool> SerializeStruct for Fields<M, F> {
    type Ok = M::Ok;
    type Error = M::Error;

    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        key: &'static str,
        value: &T,
    ) -> Result<(), Self::Error> {
        if (self.wants)(key) {
            self.map.serialize_entry(key, value)
        } else {
            Ok(())
        }
    }

    fn end(self) -> Result<Self::Ok, Self::Error> {
        self.map.end()
    }
}

/// Anything but a struct is refused: field selection only applies to structs.
macro_rules! not_a_struct {
    ($($method:ident($($arg:ty),*)),* $(,)?) => {
        $(fn $method(self, $(_: $arg),*) -> Result<Self::Ok, Self::Error> {
            Err(S::Error::custom("only a struct's fields can be selected"))
        })*
    };
}

impl<S: Serializer, F: Fn(&str) -> bool> Serializer for Only<S, F> {
    type Ok = S::Ok;
    type Error = S::Error;
    type SerializeSeq = Impossible<S::Ok, S::Error>;
    type SerializeTuple = Impossible<S::Ok, S::Error>;
    type SerializeTupleStruct = Impossible<S::Ok, S::Error>;
    type SerializeTupleVariant = Impossible<S::Ok, S::Error>;
    type SerializeMap = Impossible<S::Ok, S::Error>;
    type SerializeStruct = Fields<S::SerializeMap, F>;
    type SerializeStructVariant = Impossible<S::Ok, S::Error>;

    fn serialize_struct(
        self,
        _name: &'static str,
        _len: usize,
    ) -> Result<Self::SerializeStruct, Self::Error> {
        Ok(Fields {
            map: self.inner.serialize_map(None)?,
            wants: self.wants,
        })
    }

    not_a_struct!(
        serialize_bool(bool),
        serialize_i8(i8),
        serialize_i16(i16),
        serialize_i32(i32),
        serialize_i64(i64),
        serialize_u8(u8),
        serialize_u16(u16),
        serialize_u32(u32),
        serialize_u64(u64),
        serialize_f32(f32),
        serialize_f64(f64),
        serialize_char(char),
        serialize_str(&str),
        serialize_bytes(&[u8]),
        serialize_none(),
        serialize_unit(),
        serialize_unit_struct(&'static str),
        serialize_unit_variant(&'static str, u32, &'static str),
    );

    fn serialize_some<T: Serialize + ?Sized>(self, _: &T) -> Result<Self::Ok, Self::Error> {
        Err(S::Error::custom("only a struct's fields can be selected"))
    }

    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        _: &T,
    ) -> Result<Self::Ok, Self::Error> {
        Err(S::Error::custom("only a struct's fields can be selected"))
    }

    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: &T,
    ) -> Result<Self::Ok, Self::Error> {
        Err(S::Error::custom("only a struct's fields can be selected"))
    }

    fn serialize_seq(self, _: Option<usize>) -> Result<Self::SerializeSeq, Self::Error> {
        Err(S::Error::custom("only a struct's fields can be selected"))
    }

    fn serialize_tuple(self, _: usize) -> Result<Self::SerializeTuple, Self::Error> {
        Err(S::Error::custom("only a struct's fields can be selected"))
    }

    fn serialize_tuple_struct(
        self,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeTupleStruct, Self::Error> {
        Err(S::Error::custom("only a struct's fields can be selected"))
    }

    fn serialize_tuple_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeTupleVariant, Self::Error> {
        Err(S::Error::custom("only a struct's fields can be selected"))
    }

    fn serialize_map(self, _: Option<usize>) -> Result<Self::SerializeMap, Self::Error> {
        Err(S::Error::custom("only a struct's fields can be selected"))
    }

    fn serialize_struct_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeStructVariant, Self::Error> {
        Err(S::Error::custom("only a struct's fields can be selected"))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    #[derive(serde::Serialize)]
    struct Sample {
        id: u32,
        name: &'static str,
        #[serde(skip_serializing_if = "Option::is_none")]
        absent: Option<u32>,
        nested: Vec<u32>,
    }

    fn selected(wants: &[&str]) -> serde_json::Value {
        let sample = Sample {
            id: 1,
            name: "n",
            absent: None,
            nested: vec![2, 3],
        };
        let mut out = Vec::new();
        super::serialize_fields(&sample, &mut serde_json::Serializer::new(&mut out), |f| {
            wants.contains(&f)
        })
        .expect("serialise");
        serde_json::from_slice(&out).expect("json")
    }

    #[test]
    fn only_wanted_fields_are_written() {
        assert_eq!(
            selected(&["id", "nested"]),
            json!({"id": 1, "nested": [2, 3]})
        );
        assert_eq!(selected(&["absent"]), json!({}));
        assert_eq!(
            selected(&["id", "name", "absent", "nested"]),
            json!({"id": 1, "name": "n", "nested": [2, 3]})
        );
    }

    #[test]
    fn anything_but_a_struct_is_refused() {
        let mut out = Vec::new();
        let refused =
            super::serialize_fields(&[1, 2], &mut serde_json::Serializer::new(&mut out), |_| {
                true
            });
        assert!(refused.is_err());
    }
}
